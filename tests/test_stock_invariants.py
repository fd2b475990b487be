"""Stock under random sequences of operations (hypothesis, both engines), many concurrent clients and a
connection killed mid-transfer (PostgreSQL): the database always equals the model, the ledger equals
on-hand, nothing goes negative, quantities are conserved and every operation id is applied once."""

from __future__ import annotations

import random
import threading
import uuid
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import event, func, select, text

from backoffice.db import Database
from backoffice.models import Location, StockLevel, StockMove, StockOperation, Transfer
from backoffice.services import adjustments, catalog, inventory, transfers
from backoffice.services.base import Actor, ValidationError
from backoffice.services.inventory import InsufficientStock, MoveLine
from backoffice.services.users import ensure_user


def op() -> str:
    return uuid.uuid4().hex


def levels(db: Database) -> dict[tuple[int, int], int]:
    with db.read() as s:
        return {(v, loc): q for v, loc, q in s.execute(select(StockLevel.variant_id, StockLevel.location_id,
                                                              StockLevel.on_hand)) if q}


def negative_rows(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(StockLevel).where(StockLevel.on_hand < 0)))


def held(db: Database) -> int:
    """Units on hand anywhere internal (transit included) plus what was written off."""
    with db.read() as s:
        on_hand = int(s.scalar(select(func.coalesce(func.sum(StockLevel.on_hand), 0))))
        loss = s.scalar(select(Location.id).where(Location.code == transfers.LOSS_CODE))
        if loss is None:
            return on_hand
        written_off = s.scalar(select(func.coalesce(func.sum(StockMove.quantity), 0)).where(StockMove.to_location_id == loss))
        found = s.scalar(select(func.coalesce(func.sum(StockMove.quantity), 0)).where(StockMove.from_location_id == loss))
    return on_hand + int(written_off) - int(found)


# -- random sequences against a model --------------------------------------------------------------------
class StockMachine(RuleBasedStateMachine):
    """The model: on-hand per (variant, location), and for each open transfer what is still in transit."""

    db: Database
    actor: Actor
    variants: list[int]
    places: list[int]
    supplier: int

    def __init__(self) -> None:
        super().__init__()
        # Every example starts from empty shelves (through the ledger, so earlier examples stay accounted for):
        # the outcome of each step then depends only on the drawn steps.
        leftovers = levels(self.db)
        if leftovers:
            inventory.post_moves(self.db, self.actor, operation_id=op(), reason="return",
                                 lines=[MoveLine(v, loc, self.supplier, q) for (v, loc), q in sorted(leftovers.items())])
        self.model: dict[tuple[int, int], int] = defaultdict(int)
        self.received_total = held(self.db)
        self.open: dict[int, dict] = {}   # transfer id -> {"src":…, "transit": {variant: qty}}
        self.last_op: tuple | None = None

    @property
    def transit(self) -> int | None:
        with self.db.read() as s:
            return s.scalar(select(Location.id).where(Location.code == transfers.TRANSIT_CODE))

    @rule(v=st.integers(0, 2), at=st.integers(0, 2), qty=st.integers(1, 6))
    def receive(self, v: int, at: int, qty: int) -> None:
        variant, loc = self.variants[v], self.places[at]
        op_id = op()
        inventory.post_moves(self.db, self.actor, operation_id=op_id, reason="receipt",
                             lines=[MoveLine(variant, self.supplier, loc, qty)])
        self.model[(variant, loc)] += qty
        self.received_total += qty
        self.last_op = ("receipt", op_id, variant, loc, qty)

    @rule(v=st.integers(0, 2), src=st.integers(0, 2), dst=st.integers(0, 2), qty=st.integers(1, 8))
    def ship(self, v: int, src: int, dst: int, qty: int) -> None:
        if src == dst:
            return
        variant, a, b = self.variants[v], self.places[src], self.places[dst]
        t = transfers.create_transfer(self.db, self.actor, source_location_id=a, destination_location_id=b,
                                      lines=[(variant, qty)])
        if self.model[(variant, a)] < qty:
            with pytest.raises(InsufficientStock):
                transfers.ship_transfer(self.db, self.actor, t.id, operation_id=op())
            transfers.cancel_transfer(self.db, self.actor, t.id, operation_id=op())
            return
        op_id = op()
        transfers.ship_transfer(self.db, self.actor, t.id, operation_id=op_id)
        self.model[(variant, a)] -= qty
        self.model[(variant, self.transit)] += qty
        self.open[t.id] = {"src": a, "variant": variant, "in_transit": qty}
        self.last_op = ("ship", op_id, t.id)

    @precondition(lambda self: self.open)
    @rule(pick=st.integers(0, 10 ** 6), part=st.floats(0.01, 1.0))
    def receive_partial(self, pick: int, part: float) -> None:
        tid = sorted(self.open)[pick % len(self.open)]
        info = self.open[tid]
        q = max(1, int(info["in_transit"] * part))
        t = transfers.receive_transfer(self.db, self.actor, tid, quantities={info["variant"]: q}, operation_id=op())
        dst = t.destination_location_id
        self.model[(info["variant"], self.transit)] -= q
        self.model[(info["variant"], dst)] += q
        info["in_transit"] -= q
        assert t.state == ("received" if info["in_transit"] == 0 else "partial")
        if info["in_transit"] == 0:
            del self.open[tid]

    @precondition(lambda self: self.open)
    @rule(pick=st.integers(0, 10 ** 6))
    def cancel(self, pick: int) -> None:
        tid = sorted(self.open)[pick % len(self.open)]
        info = self.open.pop(tid)
        transfers.cancel_transfer(self.db, self.actor, tid, operation_id=op())
        self.model[(info["variant"], self.transit)] -= info["in_transit"]
        self.model[(info["variant"], info["src"])] += info["in_transit"]

    @rule(v=st.integers(0, 2), at=st.integers(0, 2), delta=st.integers(-6, 6).filter(bool))
    def adjust(self, v: int, at: int, delta: int) -> None:
        variant, loc = self.variants[v], self.places[at]
        if self.model[(variant, loc)] + delta < 0:
            with pytest.raises(InsufficientStock):
                adjustments.adjust_stock(self.db, self.actor, location_id=loc, changes={variant: delta},
                                         reason="count", operation_id=op())
            return
        adjustments.adjust_stock(self.db, self.actor, location_id=loc, changes={variant: delta}, reason="count",
                                 operation_id=op())
        self.model[(variant, loc)] += delta

    @precondition(lambda self: self.last_op is not None)
    @rule()
    def replay_last(self) -> None:
        """A retried request with the same operation id moves nothing."""
        kind, op_id, *rest = self.last_op
        if kind == "receipt":
            variant, loc, qty = rest
            r = inventory.post_moves(self.db, self.actor, operation_id=op_id, reason="receipt",
                                     lines=[MoveLine(variant, self.supplier, loc, qty)])
            assert not r.applied
        else:
            assert transfers.ship_transfer(self.db, self.actor, rest[0], operation_id=op_id).replayed

    @invariant()
    def database_equals_model(self) -> None:
        assert levels(self.db) == {k: q for k, q in self.model.items() if q}

    @invariant()
    def ledger_is_sound(self) -> None:
        assert inventory.ledger_mismatches(self.db) == []
        assert negative_rows(self.db) == 0
        assert held(self.db) == self.received_total


def test_random_operations_match_the_model(db: Database, actor: Actor, store) -> None:
    StockMachine.db, StockMachine.actor = db, actor
    StockMachine.variants = store.variant_ids
    wh3 = inventory.create_location(db, actor, code="WH3", name="Overflow", kind="warehouse").entity_id
    StockMachine.places = [store.locations["WH1"], store.locations["SHOP"], wh3]
    StockMachine.supplier = store.locations["SUP"]
    run_state_machine_as_test(StockMachine, settings=settings(
        max_examples=12, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))


# -- many clients at once (PostgreSQL) --------------------------------------------------------------------
@pytest.fixture
def pg_actor(pg_db: Database) -> Actor:
    return ensure_user(pg_db, "tester")


def _many_skus(db: Database, actor: Actor, n: int) -> list[int]:
    product = catalog.create_product(db, actor, values={"handle": "stress", "title": "Stress"},
                                     variants=[{"sku": f"ST-{i:02d}", "price": "1.00"} for i in range(n)])
    return [c.entity_id for c in product.children]


@pytest.mark.postgres
def test_sixteen_clients_transferring_scarce_stock(pg_db: Database, pg_actor: Actor) -> None:
    db, actor = pg_db, pg_actor
    clients, per_client = 16, 500
    variants = _many_skus(db, actor, 20)
    places = [inventory.create_location(db, actor, code=f"L{i}", name=f"Location {i}", kind="warehouse").entity_id
              for i in range(5)]
    supplier = inventory.create_location(db, actor, code="SUPP", name="Suppliers", kind="supplier").entity_id
    inventory.post_moves(db, actor, operation_id="opening", reason="opening_balance",
                         lines=[MoveLine(v, supplier, loc, 3) for v in variants for loc in places])
    staff = [ensure_user(db, f"clerk{i}", role="warehouse") for i in range(clients)]
    outcome = {"applied": 0, "refused": 0, "errors": []}
    lock = threading.Lock()
    op_ids: list[str] = []

    def client(i: int) -> None:
        """Transfers as documents: created, shipped (refused when the source is short), half received."""
        rnd = random.Random(i)
        applied = refused = 0
        for _ in range(per_client):
            a, b = rnd.sample(places, 2)
            lines = {rnd.choice(variants): rnd.randint(1, 4) for _ in range(rnd.choice((1, 1, 2)))}
            op_id = f"c{i}-{uuid.uuid4().hex[:12]}"
            try:
                t = transfers.create_transfer(db, staff[i], source_location_id=a, destination_location_id=b,
                                              lines=list(lines.items()))
                transfers.ship_transfer(db, staff[i], t.id, operation_id=op_id)
                applied += 1
                with lock:
                    op_ids.append(op_id)
                if rnd.random() < 0.5:
                    transfers.receive_transfer(db, staff[i], t.id, quantities=lines, operation_id=f"{op_id}-r")
                    with lock:
                        op_ids.append(f"{op_id}-r")
            except InsufficientStock:
                refused += 1
            except Exception as exc:  # noqa: BLE001 - collected and reported by the test
                with lock:
                    outcome["errors"].append(repr(exc))
        with lock:
            outcome["applied"] += applied
            outcome["refused"] += refused

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcome["errors"] == []
    assert outcome["applied"] + outcome["refused"] == clients * per_client
    assert outcome["refused"] > 0 and outcome["applied"] > 0  # scarce stock: many must be refused
    assert negative_rows(db) == 0
    assert inventory.ledger_mismatches(db) == []
    with db.read() as s:
        total = s.scalar(select(func.sum(StockLevel.on_hand)))
        ops = s.scalar(select(func.count()).select_from(StockOperation).where(StockOperation.reason == "transfer"))
        distinct = s.scalar(select(func.count(func.distinct(StockOperation.operation_id))))
        all_ops = s.scalar(select(func.count()).select_from(StockOperation))
        shipped = s.scalar(select(func.count()).select_from(Transfer).where(Transfer.state != "draft"))
    assert total == 20 * 5 * 3  # conserved (transit included)
    assert ops == len(op_ids) and distinct == all_ops == ops + 1  # each op id once, plus the opening balance
    assert shipped == outcome["applied"]


@pytest.mark.postgres
def test_twenty_clients_racing_for_ten_units(pg_db: Database, pg_actor: Actor) -> None:
    db, actor = pg_db, pg_actor
    [v] = _many_skus(db, actor, 1)
    wh = inventory.create_location(db, actor, code="WH", name="Warehouse", kind="warehouse").entity_id
    shop = inventory.create_location(db, actor, code="SHOP", name="Shop", kind="store").entity_id
    sup = inventory.create_location(db, actor, code="SUP", name="Suppliers", kind="supplier").entity_id
    inventory.post_moves(db, actor, operation_id="in", reason="receipt", lines=[MoveLine(v, sup, wh, 10)])
    drafts = [transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop,
                                        lines=[(v, 1)]) for _ in range(20)]
    barrier = threading.Barrier(20)
    results: list[str] = []
    lock = threading.Lock()

    def ship(t) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        try:
            transfers.ship_transfer(db, actor, t.id, operation_id=f"race-{t.id}")
            outcome = "shipped"
        except InsufficientStock:
            outcome = "refused"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=ship, args=(t,)) for t in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results).count("shipped") == 10 and results.count("refused") == 10
    assert inventory.on_hand(db, v, wh) == 0
    assert [t.state for t in (transfers.get_transfer(db, d.id) for d in drafts)].count("shipped") == 10


# -- a connection killed in the middle of a transfer (PostgreSQL) ----------------------------------------
@pytest.mark.postgres
def test_connection_killed_mid_transfer_posts_nothing_then_retry_posts_once(pg_db: Database, pg_actor: Actor) -> None:
    db, actor = pg_db, pg_actor
    a, b = _many_skus(db, actor, 2)
    wh = inventory.create_location(db, actor, code="WH1", name="Warehouse", kind="warehouse").entity_id
    shop = inventory.create_location(db, actor, code="SHOP", name="Shop", kind="store").entity_id
    sup = inventory.create_location(db, actor, code="SUP", name="Suppliers", kind="supplier").entity_id
    inventory.post_moves(db, actor, operation_id="in", reason="receipt",
                         lines=[MoveLine(a, sup, wh, 5), MoveLine(b, sup, wh, 5)])
    t = transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(a, 2), (b, 3)])
    armed = {"on": True}

    def kill_before_ledger(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        # The stock has been posted in this transaction (levels, ledger, audit); the server connection dies
        # before the transfer's own rows record the shipment.
        if armed["on"] and statement.lstrip().upper().startswith("UPDATE TRANSFER"):
            armed["on"] = False
            pid = conn.connection.dbapi_connection.info.backend_pid
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as killer:
                killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    event.listen(db.engine, "before_cursor_execute", kill_before_ledger)
    try:
        with pytest.raises(Exception, match="(?i)terminat|connection|closed"):
            transfers.ship_transfer(db, actor, t.id, operation_id="ship-killed")
    finally:
        event.remove(db.engine, "before_cursor_execute", kill_before_ledger)
    assert armed["on"] is False
    # nothing half-posted: levels, ledger, the operation id and the transfer's state are as before
    assert (inventory.on_hand(db, a, wh), inventory.on_hand(db, b, wh)) == (5, 5)
    assert transfers.get_transfer(db, t.id).state == "draft"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(StockOperation)
                        .where(StockOperation.operation_id == "ship-killed")) == 0
    first = transfers.ship_transfer(db, actor, t.id, operation_id="ship-killed")
    second = transfers.ship_transfer(db, actor, t.id, operation_id="ship-killed")
    assert first.state == "shipped" and not first.replayed and second.replayed
    assert (inventory.on_hand(db, a, wh), inventory.on_hand(db, b, wh)) == (3, 2)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(StockMove).join(StockOperation)
                        .where(StockOperation.operation_id == "ship-killed")) == 2
    assert inventory.ledger_mismatches(db) == []


def test_transfer_validation_names_the_line(db: Database, actor: Actor, store) -> None:
    with pytest.raises(ValidationError, match=r"line 2.*0 must be greater than zero"):
        transfers.create_transfer(db, actor, source_location_id=store.locations["WH1"],
                                  destination_location_id=store.locations["SHOP"],
                                  lines=[(store.variant_ids[0], 1), (store.variant_ids[1], 0)])
