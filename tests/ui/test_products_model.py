"""The product grid's item model without a window: placeholders then loaded rows, the tail before the
ids, staged edits and their highlight, undo/redo, formatting and parsing of cells, clipboard text; and
the loader on a real database (sort, filter, first page before the ids)."""

from __future__ import annotations

import datetime as dt
import threading
from array import array
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt

from backoffice.db import Database
from backoffice.services import catalog_grid
from backoffice.services.catalog_grid import GridRow, VariantFilter
from backoffice.services.demo import generate_demo
from backoffice.ui import theme
from backoffice.ui.views.products.clipboard import parse_tsv, to_tsv
from backoffice.ui.views.products.columns import (
    INDEX,
    CategoryIndex,
    CellError,
    column,
    format_value,
    parse_money,
    parse_value,
)
from backoffice.ui.views.products.loader import GridLoader
from backoffice.ui.views.products.models import (
    BELOW_COST_ROLE,
    LOADED_ROLE,
    ORIGINAL_ROLE,
    PAGE_ROWS,
    STAGED_BG,
    STAGED_ROLE,
    ProductGridModel,
)

D = Decimal
PRICE, COST, TITLE, MARGIN, STOCK, STATUS = (INDEX[k] for k in ("price", "cost", "title", "margin", "stock", "status"))


def grid_row(vid: int, pid: int | None = None, **values) -> GridRow:  # type: ignore[no-untyped-def]
    pid = pid if pid is not None else (vid + 1) // 2   # two variants per product
    data = {"variant_id": vid, "product_id": pid, "variant_version": 1, "product_version": 1,
            "title": f"Shirt {pid}", "handle": f"shirt-{pid}", "sku": f"SH-{vid}", "barcode": None, "options": "M",
            "status": "active", "variant_status": "active", "category_id": None, "category": "", "vendor": "Norda",
            "product_type": "Top", "tags": ["wool"], "price": D("10.00"), "compare_at_price": None,
            "cost": D("4.00"), "stock": 1234, "updated_at": dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)}
    data.update(values)
    return GridRow(**data)  # type: ignore[arg-type]


def loaded_model(n: int = 6) -> ProductGridModel:
    model = ProductGridModel()
    model.set_first_page([grid_row(i) for i in range(1, n + 1)], complete=True)
    return model


def text(model: ProductGridModel, row: int, col: int, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
    return model.data(model.index(row, col), role)


# -- lazy rows --------------------------------------------------------------------------------------------
def test_rows_are_placeholders_until_their_page_arrives(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = ProductGridModel()
    model.set_first_page([grid_row(i) for i in range(1, PAGE_ROWS + 1)], complete=False)
    assert model.rowCount() == PAGE_ROWS and model.total is None
    model.set_total(1000)
    assert model.rowCount() == 1000 and model.total == 1000
    model.set_ids(array("q", range(1, 1001)))
    assert text(model, 0, TITLE) == "Shirt 1"

    with qtbot.waitSignal(model.fetch_requested, timeout=2000) as asked:
        assert text(model, 530, TITLE) is None and text(model, 530, TITLE, LOADED_ROLE) is False
        assert text(model, 545, TITLE) is None    # same page: asked once
    ids = asked.args[0]
    assert ids == list(range(501, 601))          # the whole page of row 530 (rows 500..599)
    assert not model.request_rows(500, 599)     # already on its way
    model.receive_rows(ids, {i: grid_row(i) for i in ids if i != 560})
    assert text(model, 530, TITLE) == "Shirt 266" and text(model, 530, TITLE, LOADED_ROLE) is True
    assert text(model, 559, TITLE) == "(deleted)"  # the id had no row any more
    assert model.flags(model.index(559, PRICE)) & Qt.ItemFlag.ItemIsEditable == Qt.ItemFlag.NoItemFlags


def test_the_last_rows_come_from_a_tail_page_before_the_ids(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = ProductGridModel()
    model.set_first_page([grid_row(i) for i in range(1, PAGE_ROWS + 1)], complete=False)
    model.set_total(5000)
    assert model.id_at(4999) is None
    with qtbot.waitSignal(model.tail_requested, timeout=1000):
        assert text(model, 4999, TITLE) is None
    model.set_tail([grid_row(i) for i in range(4901, 5001)])
    assert model.id_at(4999) == 5000 and text(model, 4999, TITLE) == "Shirt 2500"
    assert model.id_at(2500) is None               # the middle waits for the ids


def test_invalidated_rows_stay_visible_and_are_fetched_again(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = loaded_model()
    model.invalidate()
    assert not model.is_fresh(0)
    with qtbot.waitSignal(model.fetch_requested, timeout=2000) as asked:
        assert text(model, 0, PRICE) == "€10.00"     # the old value, while the new one loads
    model.receive_rows(asked.args[0], {i: grid_row(i, price=D("12.00")) for i in asked.args[0]})
    assert model.is_fresh(0) and text(model, 0, PRICE) == "€12.00"


def test_a_row_written_while_its_answer_was_on_its_way_is_read_again_without_being_drawn(qtbot) -> None:  # type: ignore[no-untyped-def]
    model = loaded_model()
    with qtbot.waitSignal(model.fetch_requested, timeout=2000) as first:
        model.refetch(variant_ids=[1])                   # a write: row 1 is read again
    assert first.args[0] == [1]
    model.refetch(variant_ids=[1])                       # a second write while that read is on its way
    with qtbot.waitSignal(model.fetch_requested, timeout=2000) as again:
        model.receive_rows([1], {1: grid_row(1, price=D("10.00"))})   # the answer read before the write
    assert again.args[0] == [1]                          # asked again at once, not only when painted
    assert not model.is_fresh(0) and model.row_at(0).price == D("10.00")
    model.receive_rows([1], {1: grid_row(1, price=D("77.70"))})
    assert model.is_fresh(0) and model.row_at(0).price == D("77.70")


# -- display ----------------------------------------------------------------------------------------------
def test_cells_are_formatted_and_aligned_by_kind() -> None:
    model = ProductGridModel()
    model.set_first_page([grid_row(1, price=D("1234.50"), stock=12345, cost=D("4.00")),
                          grid_row(2, cost=D("12.00"), compare_at_price=None)], complete=True)
    assert text(model, 0, PRICE) == "€1,234.50"
    assert text(model, 0, STOCK) == "12,345"
    assert text(model, 0, MARGIN) == "99.7 %"
    assert text(model, 1, INDEX["compare_at_price"]) == ""
    assert text(model, 1, MARGIN) == "-20.0 %"
    assert text(model, 1, MARGIN, Qt.ItemDataRole.ForegroundRole) is not None   # a loss shows in red
    right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    assert text(model, 0, PRICE, Qt.ItemDataRole.TextAlignmentRole) == right
    assert text(model, 0, STOCK, Qt.ItemDataRole.TextAlignmentRole) == right
    assert text(model, 0, TITLE, Qt.ItemDataRole.TextAlignmentRole) != right
    assert text(model, 0, STATUS) == "Active"


# -- staged edits -------------------------------------------------------------------------------------------
def test_an_edit_is_staged_highlighted_and_never_written() -> None:
    model = loaded_model()
    index = model.index(0, PRICE)
    assert model.setData(index, D("19.99"))
    assert text(model, 0, PRICE) == "€19.99" and text(model, 0, PRICE, ORIGINAL_ROLE) == D("10.00")
    assert text(model, 0, PRICE, STAGED_ROLE) is True and text(model, 1, PRICE, STAGED_ROLE) is False
    assert text(model, 0, PRICE, Qt.ItemDataRole.BackgroundRole).color().name() == STAGED_BG
    assert text(model, 1, PRICE, Qt.ItemDataRole.BackgroundRole) is None
    assert text(model, 0, MARGIN) == "80.0 %"        # the margin follows the staged price
    assert "€10.00" in text(model, 0, PRICE, Qt.ItemDataRole.ToolTipRole)
    (edit,) = model.pending.edits()
    assert (edit.entity, edit.entity_id, edit.field, edit.old, edit.new, edit.version, edit.label) == \
        ("variant", 1, "price", D("10.00"), D("19.99"), 1, "SH-1")
    # back to the value read: nothing left to apply
    model.setData(index, D("10.00"))
    assert len(model.pending) == 0 and text(model, 0, PRICE, STAGED_ROLE) is False


def test_a_staged_price_below_cost_is_marked_but_stays_staged(qapp) -> None:  # type: ignore[no-untyped-def]
    model = loaded_model()
    assert text(model, 0, PRICE, BELOW_COST_ROLE) is None                         # 10.00 over a 4.00 cost
    model.setData(model.index(0, PRICE), D("3.50"))                               # below the 4.00 cost
    assert text(model, 0, PRICE, BELOW_COST_ROLE) == (D("3.50"), D("4.00"))
    assert text(model, 0, PRICE, Qt.ItemDataRole.ForegroundRole).color().name() == theme.WARNING
    assert not text(model, 0, PRICE, Qt.ItemDataRole.DecorationRole).isNull()
    tip = text(model, 0, PRICE, Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("Below cost: the price €3.50 is less than the cost €4.00.") and "was: €10.00" in tip
    assert model.cell(0, PRICE).below_cost and not model.cell(1, PRICE).below_cost
    assert [e.new for e in model.pending.edits()] == [D("3.50")]                 # a warning, never a block
    assert model.staged_below_cost() == [("SH-1", D("3.50"), D("4.00"))]
    # a staged cost above the price is the same warning; a price at the cost is not
    model.setData(model.index(1, COST), D("12.00"))
    assert text(model, 1, PRICE, BELOW_COST_ROLE) == (D("10.00"), D("12.00")) and model.cell(1, PRICE).below_cost
    model.setData(model.index(0, PRICE), D("4.00"))
    assert text(model, 0, PRICE, BELOW_COST_ROLE) is None and not model.cell(0, PRICE).below_cost
    assert text(model, 0, PRICE, Qt.ItemDataRole.DecorationRole) is None
    # undo brings the warning back with the value
    model.undo_stack.undo()
    model.undo_stack.undo()
    assert model.cell(0, PRICE).below_cost and not model.cell(1, PRICE).below_cost


def test_product_fields_are_product_changes_shown_on_every_variant_row() -> None:
    model = loaded_model()
    model.setData(model.index(0, TITLE), "Merino shirt")
    assert text(model, 0, TITLE) == text(model, 1, TITLE) == "Merino shirt"   # variants 1 and 2: product 1
    assert text(model, 2, TITLE) == "Shirt 2"
    model.setData(model.index(1, PRICE), D("7.00"))
    changes = {(c.entity, c.entity_id): c for c in model.pending.row_changes()}
    assert changes[("product", 1)].values == {"title": "Merino shirt"}
    assert changes[("product", 1)].original == {"title": "Shirt 1"}
    assert changes[("variant", 2)].values == {"price": D("7.00")} and changes[("variant", 2)].expected_version == 1


def test_computed_columns_refuse_edits() -> None:
    model = loaded_model()
    for key in ("margin", "stock", "updated_at", "options"):
        index = model.index(0, INDEX[key])
        assert not model.flags(index) & Qt.ItemFlag.ItemIsEditable
        assert model.setData(index, "5") is False
        with pytest.raises(CellError, match="computed"):
            parse_value(column(key), "5")
    assert len(model.pending) == 0


def test_undo_and_redo_walk_the_staged_edits_one_action_at_a_time() -> None:
    model = loaded_model()
    stack = model.undo_stack
    model.setData(model.index(0, PRICE), D("11.00"))
    model.stage([(r, COST, D("3.00")) for r in range(4)], "Paste")      # one action, four cells
    assert len(model.pending) == 5 and stack.count() == 2
    stack.undo()
    assert len(model.pending) == 1 and text(model, 2, COST) == "€4.00"
    stack.undo()
    assert len(model.pending) == 0 and text(model, 0, PRICE) == "€10.00"
    stack.redo()
    stack.redo()
    assert len(model.pending) == 5 and text(model, 3, COST) == "€3.00"
    model.discard()
    assert len(model.pending) == 0
    stack.undo()                       # a discard can be taken back too
    assert len(model.pending) == 5


def test_a_later_edit_keeps_the_version_the_row_was_first_read_at() -> None:
    model = loaded_model()
    model.setData(model.index(0, PRICE), D("11.00"))
    model.receive_rows([1], {1: grid_row(1, variant_version=4)})       # someone changed the row meanwhile
    model.setData(model.index(0, COST), D("5.00"))
    (change,) = model.pending.row_changes()
    assert change.expected_version == 1 and change.values == {"price": D("11.00"), "cost": D("5.00")}


def test_applied_values_and_versions_show_at_once() -> None:
    model = loaded_model()
    model.patch_rows({("variant", 1): {"price": D("8.00"), "status": "disabled"}, ("product", 1): {"tags": ["a"]}},
                     {("variant", 1): 2, ("product", 1): 5})
    row = model.row_at(0)
    assert (row.price, row.variant_status, row.tags, row.variant_version, row.product_version) == \
        (D("8.00"), "disabled", ["a"], 2, 5)
    assert model.row_at(1).tags == ["a"] and model.row_at(1).variant_version == 1


# -- parsing and clipboard text ---------------------------------------------------------------------------
@pytest.mark.parametrize("typed,expected", [
    ("12.5", "12.50"), ("1,234.50", "1234.50"), ("€ 9,99", "9.99"), ("1.234,50", "1234.50"), ("7", "7.00"),
    ("1,234", "1234.00"), ("EUR 3.10", "3.10"),
])
def test_money_is_read_in_the_usual_spellings(typed: str, expected: str) -> None:
    assert parse_money(typed, nullable=False) == D(expected)


@pytest.mark.parametrize("typed,message", [("abc", "not an amount"), ("-3", "negative"), ("1.234", "two decimals"),
                                           ("", "required")])
def test_bad_amounts_say_why(typed: str, message: str) -> None:
    with pytest.raises(CellError, match=message):
        parse_money(typed, nullable=False)


def test_values_are_parsed_per_column() -> None:
    categories = CategoryIndex([{"id": 1, "parent_id": None, "name": "Men"},
                                {"id": 2, "parent_id": 1, "name": "Shirts"},
                                {"id": 3, "parent_id": None, "name": "Women"},
                                {"id": 4, "parent_id": 3, "name": "Shirts"}])
    assert parse_value(column("status"), "Archived") == "archived"
    assert parse_value(column("tags"), "wool, sale,wool") == ["sale", "wool"]
    assert parse_value(column("compare_at_price"), "") is None
    assert parse_value(column("barcode"), " ") is None
    assert parse_value(column("category"), "Women > Shirts", categories) == 4
    assert parse_value(column("category"), "men", categories) == 1
    assert format_value(column("category"), 2, categories) == "Men › Shirts"
    for key, bad, message in (("status", "gone", "not one of"), ("sku", "A B", "not a SKU"),
                              ("barcode", "12a", "digits"), ("title", " ", "required"),
                              ("category", "Shirts", "2 categories"), ("category", "Hats", "no category")):
        with pytest.raises(CellError, match=message):
            parse_value(column(key), bad, categories)


def test_tab_separated_text_round_trips_like_a_spreadsheet() -> None:
    rows = [["a", "b\tc", 'say "hi"'], ["line\nbreak", "", "€1.00"]]
    encoded = to_tsv(rows)
    assert encoded.split("\n")[0] == 'a\t"b\tc"\t"say ""hi"""'
    assert parse_tsv(encoded) == rows
    assert parse_tsv("1\t2\r\n3\t4\r\n") == [["1", "2"], ["3", "4"]]    # Excel's line ends, trailing newline
    assert parse_tsv("x") == [["x"]]


# -- the loader on a real database ------------------------------------------------------------------------
@pytest.fixture
def demo_db(sqlite_db: Database, sqlite_actor) -> Database:  # type: ignore[no-untyped-def]
    generate_demo(sqlite_db, sqlite_actor, products=60, seed=5)
    return sqlite_db


def test_loader_shows_the_first_page_before_the_ids_and_sorts_in_the_database(qtbot, tasks, demo_db, sqlite_actor,  # type: ignore[no-untyped-def]
                                                                               connected_context, monkeypatch) -> None:
    release = threading.Event()
    original = catalog_grid.ordered_ids

    def held_ids(*args, **kwargs):  # type: ignore[no-untyped-def]
        release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(catalog_grid, "ordered_ids", held_ids)
    model = ProductGridModel()
    loader = GridLoader(model, connected_context(demo_db, sqlite_actor), tasks)
    loader.load(VariantFilter(), "price", True)
    assert loader.loading
    qtbot.waitUntil(lambda: model.rowCount() > 0 and model.total is not None, timeout=10_000)
    total = catalog_grid.count(demo_db)
    assert model.total == total and not model.ids_loaded and not loader.loading
    prices = [model.row_at(r).price for r in range(PAGE_ROWS)]
    assert prices == sorted(prices, reverse=True)
    release.set()
    qtbot.waitUntil(lambda: model.ids_loaded, timeout=10_000)
    assert model.id_at(total - 1) == original(demo_db, VariantFilter(), "price", True)[-1]


def test_loader_counts_only_matching_rows(qtbot, tasks, demo_db, sqlite_actor,  # type: ignore[no-untyped-def]
                                          connected_context) -> None:
    model = ProductGridModel()
    loader = GridLoader(model, connected_context(demo_db, sqlite_actor), tasks)
    f = VariantFilter(statuses=("draft",))
    loader.load(f)
    qtbot.waitUntil(lambda: model.ids_loaded, timeout=10_000)
    assert model.total == catalog_grid.count(demo_db, f) < catalog_grid.count(demo_db)
    model.request_rows(0, model.rowCount() - 1)
    qtbot.waitUntil(lambda: all(model.row_at(r) is not None for r in range(model.rowCount())), timeout=10_000)
    assert {model.row_at(r).status for r in range(model.rowCount())} == {"draft"}
