"""The data rows of an import file, held in bounded memory: in a list while they are few, and once a file
has more than ``SPILL_ROWS`` rows holding more than ``SPILL_CHARS`` characters, all of them in a temporary
SQLite file on disk (deleted when the store is closed or garbage collected). The planner reads them back
in chunks, so checking a 2M-row file needs memory for one chunk, not for the file. (A 100k-row price
list stays in memory: nothing to gain from the disk there.)"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

SPILL_ROWS = 50_000      # rows kept in Python lists; more go to a temporary table ...
SPILL_CHARS = 8_000_000  # ... when they hold more than this many characters (a Python row costs ~10x its text)
CHUNK_ROWS = 50_000      # rows the planner handles at once
_SEP = "\x1f"            # cells of a stored row joined by the unit separator ...
_JSON = "\x1e"           # ... or, when a cell holds one, the row as JSON after this mark


def _pack(cells: list[str]) -> str:
    text = _SEP.join(cells)
    if text.count(_SEP) != len(cells) - 1 or text.startswith(_JSON):
        return _JSON + json.dumps(cells, ensure_ascii=False)
    return text


def _unpack(text: str) -> list[str]:
    if text.startswith(_JSON):
        return json.loads(text[1:])
    return text.split(_SEP)


@dataclass
class Chunk:
    start: int                 # index of the chunk's first data row in the file (0-based)
    rows: list[list[str]]
    numbers: list[int]         # the rows' numbers in the file (header = 1)
    skus: list[str] | None = None   # cleaned SKU per row when the reader knew the SKU column


def _remove(conn: sqlite3.Connection, path: str) -> None:
    try:
        conn.close()
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


class RowStore:
    """Append rows (cells as text, row number, cleaned SKU) then read them in order, in chunks."""

    def __init__(self) -> None:
        self._rows: list[list[str]] = []
        self._numbers: list[int] = []
        self._skus: list[str] = []
        self._n = 0
        self._chars = 0
        self._db: sqlite3.Connection | None = None
        self._path: str | None = None
        self._finalizer: weakref.finalize | None = None

    # -- writing --------------------------------------------------------------------------------------
    def append(self, cells: list[str], number: int, sku: str) -> None:
        self._rows.append(cells)
        self._numbers.append(number)
        self._skus.append(sku)
        self._n += 1
        if self._db is None:
            self._chars += sum(map(len, cells))
        if len(self._rows) >= SPILL_ROWS and (self._db is not None or self._chars > SPILL_CHARS):
            self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        if self._db is None:
            fd, self._path = tempfile.mkstemp(prefix="backoffice-import-", suffix=".sqlite")
            os.close(fd)
            self._db = sqlite3.connect(self._path, check_same_thread=False)
            self._db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;"
                                   "CREATE TABLE r (k INTEGER PRIMARY KEY, num INTEGER, sku TEXT, cells TEXT);")
            self._finalizer = weakref.finalize(self, _remove, self._db, self._path)
        first = self._n - len(self._rows)
        self._db.executemany("INSERT INTO r VALUES (?, ?, ?, ?)",
                             ((first + i, num, sku, _pack(cells))
                              for i, (cells, num, sku) in enumerate(zip(self._rows, self._numbers, self._skus,
                                                                        strict=True))))
        self._db.commit()
        self._rows, self._numbers, self._skus = [], [], []

    def finish(self) -> None:
        """No more rows: a spilled store writes its last rows and indexes SKUs (for duplicate checks)."""
        if self._db is not None:
            self._flush()
            self._db.execute("CREATE INDEX r_sku ON r (sku)")
            self._db.commit()

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()

    # -- reading --------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @property
    def spilled(self) -> bool:
        return self._db is not None

    @property
    def connection(self) -> sqlite3.Connection | None:
        """The temporary SQLite file of a spilled store (the planner keeps its own tables there too)."""
        return self._db

    def chunks(self, size: int = CHUNK_ROWS) -> Iterator[Chunk]:
        if self._db is None:
            for start in range(0, self._n, size):
                yield Chunk(start, self._rows[start:start + size], self._numbers[start:start + size],
                            self._skus[start:start + size])
            return
        for start in range(0, self._n, size):
            got = self._db.execute("SELECT num, sku, cells FROM r WHERE k >= ? AND k < ? ORDER BY k",
                                   (start, start + size)).fetchall()
            yield Chunk(start, [_unpack(c) for _, _, c in got], [n for n, _, _ in got], [s for _, s, _ in got])

    def all_rows(self) -> list[list[str]]:
        """Every row in one list (small files, and the callers that want them all)."""
        if self._db is None:
            return self._rows
        return [r for chunk in self.chunks() for r in chunk.rows]

    def all_numbers(self) -> list[int]:
        if self._db is None:
            return self._numbers
        return [n for (n,) in self._db.execute("SELECT num FROM r ORDER BY k")]

    def repeated_skus(self) -> dict[str, int]:
        """Non-empty SKUs on more than one row -> the number of the first row that has it."""
        if self._db is None:
            first: dict[str, int] = {}
            repeated: dict[str, int] = {}
            for sku, num in zip(self._skus, self._numbers, strict=True):
                if not sku:
                    continue
                seen = first.setdefault(sku, num)
                if seen != num:
                    repeated[sku] = seen
            return repeated
        return dict(self._db.execute("SELECT sku, min(num) FROM r WHERE sku <> '' GROUP BY sku HAVING count(*) > 1"))

    @classmethod
    def of(cls, rows: list[list[str]], numbers: list[int], skus: list[str] | None = None) -> RowStore:
        store = cls()
        store._rows, store._numbers, store._n = rows, numbers, len(rows)
        store._skus = skus if skus is not None else [""] * len(rows)
        return store
