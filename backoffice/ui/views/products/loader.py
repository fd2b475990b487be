"""Loads what the grid model asks for, through the operations contract in the background, and hands it
back on the GUI thread.

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

from backoffice.operations import Operations
from backoffice.operations.catalog import GridRow, VariantFilter
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.models import PAGE_ROWS, ProductGridModel

FIRST_PAGE_ROWS = PAGE_ROWS


class GridLoader(QObject):
    first_page_shown = Signal()
    count_changed = Signal()          # model.total changed (the count or the ids arrived)
    tail_loaded = Signal()
    ids_loaded = Signal()
    loading_changed = Signal(bool)    # the first load (first page and count) started / finished
    failed = Signal(str)              # a load failed: the text for the error banner

    def __init__(self, model: ProductGridModel, context: AppContext, tasks: TaskManager,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.context = context
        self.runner = Runner(context, tasks, self)
        self.filter = VariantFilter()
        self.sort_key = "id"
        self.descending = False
        self.connected = False            # the last load had operations to read from
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
    def load(self, f: VariantFilter, sort_key: str = "id", descending: bool = False) -> None:
        """Start over: the first page, then the count and the ids (nothing while not connected)."""
        self.generation += 1
        self.filter, self.sort_key, self.descending = f, sort_key, descending
        self.connected = self.context.ops is not None
        self._ids_waiting = False   # a read of the ids for the older filter is no longer wanted
        self.ids_loading = False
        self.model.reset()
        if not self.connected:
            self._set_first_loading(0)
            return
        self._set_first_loading(2)   # the first page, then the count
        self._read_first(lambda ops: ops.catalog.first_page(f, sort_key, descending, limit=FIRST_PAGE_ROWS),
                         partial(self._on_first_page, self.generation))

    def revalidate(self) -> None:
        """Data was written: cached rows are refetched when drawn, and the ids are read again in the
        background (rows added or removed, or moved by the sort), while the grid keeps showing rows."""
        self.model.invalidate()
        self.reload_ids()

    def reload_ids(self) -> None:
        """Read the ids again (rows may have entered or left the filter, or moved in the sort); the rows
        already loaded stay as they are."""
        if self.connected and not self._first_loading:
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
        f = self.filter
        self._read_first(lambda ops: ops.catalog.count(f), partial(self._on_count, gen))
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
        f, key, desc = self.filter, self.sort_key, self.descending
        self._ids_running, self._ids_waiting = True, False

        def show_ids(ids: Any) -> None:
            self._ids_running = False
            self._on_ids(gen, ids)
            self._next_ids()

        def ids_failed(exc: BaseException) -> None:
            self._ids_running = False
            if gen == self.generation:
                self.ids_loading = False
                self.failed.emit(self.tr("The catalog could not be loaded: {error}").format(error=error_message(exc)))
            self._next_ids()

        if not self._read(lambda ops: ops.catalog.ordered_ids(f, key, desc), show_ids, ids_failed):
            self._ids_running = False

    def _next_ids(self) -> None:
        if self._ids_waiting and self.connected:
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
        if not self.connected:
            return
        f, key, desc = self.filter, self.sort_key, self.descending
        gen, need_count = self.generation, self.model.total is None

        def read_tail(ops: Operations) -> tuple[int | None, list[GridRow]]:
            total = ops.catalog.count(f) if need_count else None
            return total, ops.catalog.last_page(f, key, desc, limit=PAGE_ROWS)

        self._read(read_tail, partial(self._on_tail, gen), partial(self._load_failed, gen))

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
        if not self.connected:
            self.model.fetch_failed(ids)
            return
        self.fetches += 1

        def show_rows(rows: dict[int, GridRow]) -> None:
            self.fetches -= 1
            self.model.receive_rows(ids, rows)

        def rows_failed(exc: BaseException) -> None:
            self.fetches -= 1
            self.model.fetch_failed(ids)
            self.failed.emit(self.tr("Rows could not be loaded: {error}").format(error=error_message(exc)))

        if not self._read(lambda ops: ops.catalog.rows_by_id(ids), show_rows, rows_failed):
            self.fetches -= 1
            self.model.fetch_failed(ids)

    # -- reading ---------------------------------------------------------------------------------------------
    def _read_first(self, query: Callable[[Operations], Any], on_done: Callable[[Any], None]) -> None:
        """A read of the first load (its first page, its count): the load is over when both are in, or
        when one fails."""
        gen = self.generation

        def first_read_done(value: Any) -> None:
            try:
                on_done(value)
            finally:
                if gen == self.generation and self._first_loading:
                    self._set_first_loading(self._first_loading - 1)

        def first_read_failed(exc: BaseException) -> None:
            if gen == self.generation:
                self._set_first_loading(0)   # nothing more of this load will come
            self._load_failed(gen, exc)

        if not self._read(query, first_read_done, first_read_failed):
            self._set_first_loading(0)

    def _load_failed(self, gen: int, exc: BaseException) -> None:
        if gen == self.generation:
            self.ids_loading = False
            self.failed.emit(self.tr("The catalog could not be loaded: {error}").format(error=error_message(exc)))

    def _read(self, query: Callable[[Operations], Any], on_done: Callable[[Any], None],
              on_error: Callable[[BaseException], None]) -> bool:
        """Hand a read to the runner; False when not connected or when the executor no longer takes any
        (the application is closing)."""
        try:
            return self.runner.read(query, on_done, on_error=on_error)
        except RuntimeError:
            return False

    def _set_first_loading(self, n: int) -> None:
        was = self.loading
        self._first_loading = n
        if was != self.loading:
            self.loading_changed.emit(self.loading)
