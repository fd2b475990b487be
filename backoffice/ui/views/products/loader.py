"""Loads what the grid model asks for, in the background, and hands it back on the GUI thread.

Opening the grid costs one keyset page: the first rows are shown as soon as they arrive ("first paint"),
and only then are the row count and the ordered ids loaded (so the scroll bar becomes true and any row
can be fetched). Every (re)load gets a generation number; answers for an older generation (the filter or
sort changed meanwhile) are dropped. Rows fetched by id are kept whatever the generation: they are still
the rows of those ids.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, Signal

from backoffice.db import Database
from backoffice.services import catalog_grid
from backoffice.services.catalog_grid import GridRow, PageReader, VariantFilter
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.model import PAGE_ROWS, ProductGridModel

FIRST_PAGE_ROWS = PAGE_ROWS


class GridLoader(QObject):
    first_page_shown = Signal()
    count_changed = Signal()          # model.total changed (the count or the ids arrived)
    tail_loaded = Signal()
    ids_loaded = Signal()
    loading_changed = Signal(bool)    # the first load (first page and count) started / finished
    failed = Signal(str)              # a load failed: the text for the error banner

    def __init__(self, model: ProductGridModel, tasks: TaskManager, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.tasks = tasks
        self.db: Database | None = None
        self.reader: PageReader | None = None   # the connection kept for page reads of self.db
        self.filter = VariantFilter()
        self.sort_key = "id"
        self.descending = False
        self.generation = 0
        self._first_loading = 0
        self.ids_loading = False
        self._ids_running = self._ids_waiting = False
        self.fetches = 0                  # row fetches under way
        model.fetch_requested.connect(self.fetch_rows)
        model.tail_requested.connect(self.load_tail)

    @property
    def loading(self) -> bool:
        return self._first_loading > 0

    # -- loading ---------------------------------------------------------------------------------------
    def load(self, db: Database | None, f: VariantFilter, sort_key: str = "id", descending: bool = False) -> None:
        """Start over: the first page, then the count and the ids."""
        self.generation += 1
        if db is not self.db:
            self._close_reader()
            self.reader = PageReader(db) if db is not None else None
            if self.reader is not None:
                self.destroyed.connect(self.reader.close)
        self.db, self.filter, self.sort_key, self.descending = db, f, sort_key, descending
        self._ids_waiting = False   # a read of the ids for the older filter is no longer wanted
        self.ids_loading = False
        self.model.reset()
        if db is None:
            self._set_first_loading(0)
            return
        gen, reader = self.generation, self.reader
        self._set_first_loading(2)   # the first page, then the count
        self._run(lambda: catalog_grid.first_page(reader, f, sort_key, descending, limit=FIRST_PAGE_ROWS),
                  partial(self._on_first_page, gen), first=True)

    def revalidate(self) -> None:
        """Data was written: cached rows are refetched when drawn, and the ids are read again in the
        background (rows added or removed, or moved by the sort), while the grid keeps showing rows."""
        self.model.invalidate()
        if self.db is None or self._first_loading:
            return
        self._load_ids(self.generation)

    def _on_first_page(self, gen: int, rows: list[GridRow]) -> None:
        if gen != self.generation:
            return
        complete = len(rows) < FIRST_PAGE_ROWS
        self.model.set_first_page(rows, complete=complete)
        self.first_page_shown.emit()
        if complete:
            self._set_first_loading(0)
            self.count_changed.emit()
            return
        db, f = self.db, self.filter
        assert db is not None
        self._run(lambda: catalog_grid.count(db, f), partial(self._on_count, gen), first=True)
        self._load_ids(gen)

    def _on_count(self, gen: int, total: int) -> None:
        if gen != self.generation:
            return
        self.model.set_total(total)
        self.count_changed.emit()

    def _load_ids(self, gen: int) -> None:
        """Read every id in display order. One such read at a time: a newer one waits for the running one
        (which may be for an older sort), so they never take every worker and starve the row fetches."""
        self.ids_loading = True
        if self._ids_running:
            self._ids_waiting = True
            return
        db, f, key, desc = self.db, self.filter, self.sort_key, self.descending
        assert db is not None
        self._ids_running, self._ids_waiting = True, False

        def done(ids: Any) -> None:
            self._ids_running = False
            self._on_ids(gen, ids)
            self._next_ids()

        def fail(exc: BaseException) -> None:
            self._ids_running = False
            if gen == self.generation:
                self.ids_loading = False
                self.failed.emit(self.tr("The catalog could not be loaded: {error}").format(error=one_line(exc)))
            self._next_ids()

        if not self._submit(lambda: catalog_grid.ordered_ids(db, f, key, desc), done, fail):
            self._ids_running = False

    def _next_ids(self) -> None:
        if self._ids_waiting and self.db is not None:
            self._load_ids(self.generation)

    def _on_ids(self, gen: int, ids: Any) -> None:
        if gen != self.generation:
            return
        self.ids_loading = False
        self.model.set_ids(ids)
        self.count_changed.emit()
        self.ids_loaded.emit()

    def load_tail(self) -> None:
        """The last page by a reverse keyset query (and the count, if not known yet)."""
        db, reader, f, key, desc = self.db, self.reader, self.filter, self.sort_key, self.descending
        if db is None or reader is None:
            return
        gen, need_count = self.generation, self.model.total is None

        def task() -> tuple[int | None, list[GridRow]]:
            total = catalog_grid.count(db, f) if need_count else None
            return total, catalog_grid.last_page(reader, f, key, desc, limit=PAGE_ROWS)

        self._run(task, partial(self._on_tail, gen))

    def _on_tail(self, gen: int, result: tuple[int | None, list[GridRow]]) -> None:
        if gen != self.generation:
            return
        total, rows = result
        if total is not None:
            self.model.set_total(total)
            self.count_changed.emit()
        self.model.set_tail(rows)
        self.tail_loaded.emit()

    def fetch_rows(self, ids: list[int]) -> None:
        reader = self.reader
        if reader is None:
            self.model.fetch_failed(ids)
            return
        self.fetches += 1

        def done(rows: dict[int, GridRow]) -> None:
            self.fetches -= 1
            self.model.receive_rows(ids, rows)

        def fail(exc: BaseException) -> None:
            self.fetches -= 1
            self.model.fetch_failed(ids)
            self.failed.emit(self.tr("Rows could not be loaded: {error}").format(error=one_line(exc)))

        if not self._submit(lambda: catalog_grid.rows_by_id(reader, ids), done, fail):
            self.fetches -= 1
            self.model.fetch_failed(ids)

    # -- plumbing --------------------------------------------------------------------------------------------
    def _run(self, task: Callable[[], Any], on_done: Callable[[Any], None], *, first: bool = False) -> None:
        gen = self.generation

        def done(value: Any) -> None:
            try:
                on_done(value)
            finally:
                if first:
                    self._finish_first(gen)

        def fail(exc: BaseException) -> None:
            if gen == self.generation and first:
                self._set_first_loading(0)   # nothing more of this load will come
            if gen == self.generation:
                self.ids_loading = False
                self.failed.emit(self.tr("The catalog could not be loaded: {error}").format(error=one_line(exc)))

        if not self._submit(task, done, fail) and first:
            self._set_first_loading(0)

    def _submit(self, task: Callable[[], Any], done: Callable[[Any], None],
                fail: Callable[[BaseException], None]) -> bool:
        """Hand a task to the executor; False when it no longer takes any (the application is closing)."""
        try:
            self.tasks.run_in_background(task, done, fail, context=self)
        except RuntimeError:
            return False
        return True

    def _finish_first(self, gen: int) -> None:
        if gen == self.generation and self._first_loading:
            self._set_first_loading(self._first_loading - 1)

    def _set_first_loading(self, n: int) -> None:
        was = self.loading
        self._first_loading = n
        if was != self.loading:
            self.loading_changed.emit(self.loading)


    def _close_reader(self) -> None:
        reader, self.reader = self.reader, None
        if reader is not None:
            reader.close()   # hands a socket back to the pool: no round trip


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
