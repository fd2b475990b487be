"""Benchmark: the Products grid at 1M variants against 10k variants and against raw keyset queries.

    QT_QPA_PLATFORM=offscreen python benchmarks/grid.py [--url URL] [--runs 7] [--page 100]

Stores: ``demo_store(products=100_000)`` (about 1M variants) and ``demo_store(products=1000)`` (about 10k
variants), built once by benchmarks/common.py and reused.

1. **Time to first paint**: from constructing the view (model, loader, widgets) on a connected context
   until the first page of rows is in the model and the table's viewport has been painted with them.
   The count and the ids are loaded afterwards, in the background, and are not part of it; each run
   waits for them to finish before the next starts. Median of ``--runs`` runs per store, alternating
   stores. Target: 1M / 10k ≤ 1.5x.
2. **Time to jump to the last row** (Ctrl+End) on the 1M store, from the key press until the last row
   is loaded in the model, and until it is painted:
   a. before the ordered ids have loaded (they are held back in this measurement), which is the reverse
      keyset query ``catalog_grid.last_page``;
   b. after the ids have loaded, which is ``rows_by_id`` of the last page's ids.
   Against, on the same database and page size, with psycopg on an open connection:
   - **raw grid page**: one hand-written SELECT of the grid's columns (variant, product, category, tags,
     options, stock) ``ORDER BY v.id DESC LIMIT page``: the same rows the grid shows;
   - **raw variants page**: ``SELECT * FROM variants ORDER BY id DESC LIMIT page`` (no joins).
   Target: jump / raw grid page ≤ 2x. Both ratios are printed.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import psycopg
from common import DEFAULT_URL, demo_store
from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QSettings, Qt, QTimer
from PySide6.QtTest import QTest
from sqlalchemy import make_url

from backoffice.db import Database
from backoffice.operations import LocalOperations
from backoffice.services import catalog_grid
from backoffice.services.base import Actor
from backoffice.services.users import ensure_user
from backoffice.ui.app import create_application
from backoffice.ui.context import AppContext
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products import ProductsView

RAW_GRID_PAGE = """
SELECT v.id, v.product_id, v.version, p.version, p.title, p.handle, v.sku, v.barcode, v.title, p.status, v.status,
       p.category_id, c.name, p.vendor, p.product_type, v.price, v.compare_at_price, v.cost, v.updated_at,
       p.updated_at,
       (SELECT string_agg(t.tag, ',') FROM product_tags t WHERE t.product_id = p.id),
       (SELECT string_agg(av.value, ' / ' ORDER BY a.position, a.id) FROM variant_options o
          JOIN attribute_values av ON av.id = o.attribute_value_id JOIN attributes a ON a.id = o.attribute_id
         WHERE o.variant_id = v.id),
       (SELECT sum(s.on_hand) FROM stock_levels s WHERE s.variant_id = v.id)
FROM variants v JOIN products p ON p.id = v.product_id LEFT JOIN categories c ON c.id = p.category_id
ORDER BY v.id DESC LIMIT %s
"""
RAW_VARIANTS_PAGE = "SELECT * FROM variants ORDER BY id DESC LIMIT %s"


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Process events until ``condition()``; polls, so use it only outside timed sections."""
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the grid did not get there in time")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        time.sleep(0.001)


def wait_for(signal, condition: Callable[[], bool], timeout_ms: int = 60_000) -> None:  # type: ignore[no-untyped-def]
    """Run the event loop, as the application does, until ``signal`` fires with ``condition()`` true.
    (A polling loop would keep the GIL busy and slow down the worker threads it waits for.)"""
    if condition():
        return
    loop = QEventLoop()

    def check(*_args) -> None:  # type: ignore[no-untyped-def]
        if condition():
            loop.quit()

    signal.connect(check)
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    signal.disconnect(check)
    if not condition():
        raise TimeoutError("the grid did not get there in time")


class Bench:
    def __init__(self, settings_dir: str) -> None:
        self.app = create_application()
        self.settings = QSettings(os.path.join(settings_dir, "window.ini"), QSettings.Format.IniFormat)
        self.tasks = TaskManager()
        self.actors: dict[Database, Actor] = {}

    def prepare(self, *dbs: Database) -> None:
        for db in dbs:   # the signed-in user, as the main window has it before any view opens
            self.actors[db] = ensure_user(db, "bench")

    def open_view(self, db: Database) -> ProductsView:
        context = AppContext(profile_name="bench")
        context.set_connected(LocalOperations(db, self.actors[db]))
        view = ProductsView(context, self.tasks, settings=self.settings)
        view.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        view.resize(1280, 760)
        view.show()
        view.activate()
        return view

    def close(self, view: ProductsView) -> None:
        self.tasks.wait_idle(120_000)
        view.context.ops.catalog.close()   # the connection kept for the grid's page reads goes back to the pool
        view.close()
        view.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        QCoreApplication.processEvents()
        gc.collect()     # the garbage of this run is not collected inside the next one's timing

    def first_paint(self, db: Database) -> float:
        """Seconds from constructing the view to its first page painted."""
        shown: list[float] = []
        started = time.perf_counter()
        view = self.open_view(db)
        view.loader.first_page_shown.connect(lambda: shown.append(time.perf_counter()))
        wait_for(view.loader.first_page_shown, lambda: bool(shown))
        view.table.viewport().repaint()     # paint the first rows now (the event loop would do it next)
        painted = time.perf_counter()
        assert view.model.row_at(0) is not None
        self.close(view)
        return painted - started

    def jump(self, db: Database, *, before_ids: bool) -> tuple[float, float]:
        """Seconds from Ctrl+End to the last row loaded, and to it painted."""
        release = threading.Event()
        original = catalog_grid.ordered_ids
        if before_ids:
            catalog_grid.ordered_ids = lambda *a, **k: (release.wait(300), original(*a, **k))[1]  # type: ignore[assignment]
        try:
            view = self.open_view(db)
            wait_until(lambda: view.model.total is not None and not view.is_loading())
            if not before_ids:
                wait_until(lambda: view.model.ids_loaded)
            if not before_ids:
                self.tasks.wait_idle(120_000)
            assert view.model.ids_loaded != before_ids
            last = view.model.total - 1   # type: ignore[operator]
            view.table.setFocus()
            loaded: list[float] = []
            view.model.rows_arrived.connect(
                lambda: loaded.append(time.perf_counter()) if view.model.row_at(last) is not None else None)
            started = time.perf_counter()
            QTest.keyClick(view.table, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
            wait_for(view.model.rows_arrived, lambda: bool(loaded))
            view.table.viewport().repaint()
            painted = time.perf_counter()
            assert view.table.currentIndex().row() == last and view.model.row_at(last) is not None
            release.set()
            self.close(view)
            return loaded[0] - started, painted - started
        finally:
            release.set()
            catalog_grid.ordered_ids = original  # type: ignore[assignment]


def raw_page(url: str, sql: str, page: int, runs: int) -> float:
    with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        conn.execute(sql, (page,)).fetchall()   # warm
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            rows = conn.execute(sql, (page,)).fetchall()
            times.append(time.perf_counter() - started)
        assert len(rows) == page
    return statistics.median(times)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--page", type=int, default=100, help="rows per keyset page (the grid's page size)")
    args = ap.parse_args()
    from backoffice.ui.views.products import loader, models

    if args.page != models.PAGE_ROWS:
        raise SystemExit(f"the grid's page is {models.PAGE_ROWS} rows; run with --page {models.PAGE_ROWS}")
    big, small = demo_store(args.url, 100_000), demo_store(args.url, 1000)
    n_big, n_small = catalog_grid.count(big), catalog_grid.count(small)
    print(f"stores: {n_big:,} variants (bench_store_100000_42) and {n_small:,} variants (bench_store_1000_42)")
    print(f"page: {loader.FIRST_PAGE_ROWS} rows; {args.runs} runs each, median")

    with tempfile.TemporaryDirectory() as settings_dir:
        bench = Bench(settings_dir)
        bench.prepare(big, small)
        bench.first_paint(small)            # warm both connection pools and Qt
        bench.first_paint(big)
        paints: dict[str, list[float]] = {"big": [], "small": []}
        for _ in range(args.runs):
            paints["small"].append(bench.first_paint(small))
            paints["big"].append(bench.first_paint(big))
        fp_big, fp_small = statistics.median(paints["big"]), statistics.median(paints["small"])
        print("\n1. time to first paint (construct the view → first page painted)")
        print(f"  {n_small:>9,} variants {ms(fp_small)}")
        print(f"  {n_big:>9,} variants {ms(fp_big)}")
        print(f"  ratio 1M/10k: {fp_big / fp_small:.2f}x (target ≤ 1.5x)")

        results = {}
        for before_ids in (True, False):
            runs = [bench.jump(big, before_ids=before_ids) for _ in range(args.runs)]
            results[before_ids] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
        bench.tasks.shutdown()
    raw_url = big.url.render_as_string(hide_password=False)
    raw_grid = raw_page(raw_url, RAW_GRID_PAGE, args.page, 25)
    raw_variants = raw_page(raw_url, RAW_VARIANTS_PAGE, args.page, 25)
    print(f"\n2. jump to the last row (Ctrl+End) at {n_big:,} variants")
    print(f"  raw grid page     (same columns, ORDER BY v.id DESC LIMIT {args.page}) {ms(raw_grid)}")
    print(f"  raw variants page (SELECT * FROM variants ORDER BY id DESC LIMIT {args.page}) {ms(raw_variants)}")
    for before_ids, label in ((True, "before the ids are loaded: reverse keyset page"),
                              (False, "after the ids are loaded: rows_by_id of the last page")):
        loaded, painted = results[before_ids]
        print(f"  {label}")
        print(f"    to the last row loaded  {ms(loaded)}   vs raw grid page {loaded / raw_grid:5.2f}x"
              f"   vs raw variants page {loaded / raw_variants:5.2f}x")
        print(f"    to the last row painted {ms(painted)}   vs raw grid page {painted / raw_grid:5.2f}x"
              f"   vs raw variants page {painted / raw_variants:5.2f}x")
    print("  target: jump / raw grid page ≤ 2x")


if __name__ == "__main__":
    main()
