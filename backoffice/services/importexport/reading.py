"""Reading an import file into rows of text: CSV (encoding and delimiter detected) or XLSX (calamine,
after checking the zip), native or Shopify columns, with size limits checked before anything is loaded."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backoffice.services.importexport.common import (
    BUNDLE_COLUMNS,
    FORMATS,
    SHOPIFY_FIELDS,
    XLSX_MAX_RATIO,
    XLSX_MAX_UNCOMPRESSED_FACTOR,
    XLSX_RATIO_MIN_BYTES,
    CancelFn,
    ImportFileError,
    ProgressFn,
    Steps,
    default_max_bytes,
    no_gc,
    unneutralise,
)
from backoffice.services.importexport.rows import RowStore

NATIVE_FIELDS = ("handle", "title", "description", "vendor", "product_type", "status", "category", "tags",
                 "seo_title", "seo_description", "sku", "barcode", "price", "compare_at_price", "cost",
                 "weight_grams", "variant_status", "version", "product_version", *BUNDLE_COLUMNS)
REQUIRED = {"native": ("sku",), "shopify": ("Handle", "Variant SKU")}
_OPTION_RE = re.compile(r"^option\s*(\d+)\s*_?\s*(name|value)$")
_SHOPIFY_OPTION_RE = re.compile(r"^option(\d+) (name|value)$")
_DELIMITERS = (",", ";", "\t", "|")
_MAGIC_ZIP = b"PK\x03\x04"
_MAGIC_OLE = b"\xd0\xcf\x11\xe0"


@dataclass
class ParsedFile:
    """A product file read into text cells, not yet validated against the store.

    The data rows are in ``store`` (see rows.py: a list for small files, a temporary table on disk for big
    ones); ``rows`` and ``row_numbers`` give them all at once, the planner reads them in chunks. Cells are
    exactly as the file has them (a CSV's formula-neutralising quote is still there; the importer removes
    it), row numbers as numbered in the file (header = 1; a spreadsheet shows the same numbers),
    ``columns`` where each known field is, ``option_columns`` the (name, value) column pairs of option1,
    option2 ..."""

    path: str
    format: str                                   # "native" or "shopify"
    container: str                                # "csv" or "xlsx"
    header: list[str]
    store: RowStore
    columns: dict[str, int]                       # field -> column index
    option_columns: list[tuple[int | None, int]] = field(default_factory=list)
    options_column: int | None = None             # native "options" column: "size=M; colour=Red"
    ignored_columns: list[str] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None
    notes: list[str] = field(default_factory=list)
    header_row: int = 1
    signature: str = ""                           # the file's size and time of change when it was read

    @property
    def name(self) -> str:
        return Path(self.path).name

    @property
    def data_rows(self) -> int:
        return len(self.store)

    @property
    def rows(self) -> list[list[str]]:
        return self.store.all_rows()

    @property
    def row_numbers(self) -> list[int]:
        return self.store.all_numbers()

    def clean(self, text: str) -> str:
        """A cell's text as the import reads it: a CSV's neutralising quote removed (an XLSX string cell
        is never a formula, so its text is taken exactly), spaces around it trimmed."""
        return (unneutralise(text) if self.container == "csv" else text).strip()


# -- entry point ----------------------------------------------------------------------------------------
def read_products_file(path: str | os.PathLike[str], format: str = "auto", *, max_bytes: int | None = None,
                       progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                       mapping: dict[str, str | None] | None = None) -> ParsedFile:
    """Read a native CSV/XLSX or Shopify CSV product file. ``format``: auto (by content and header),
    csv or xlsx (that container; native or Shopify columns by header) or shopify (Shopify columns).
    ``mapping`` (file header -> native column name, or None to ignore the column) overrides how the
    named headers are understood; headers it does not name are recognised as usual.
    Raises ImportFileError with one clear message for a file that cannot be a product list.

    Rows are read as a stream and kept in bounded memory (see rows.py); a cell longer than
    ``MAX_CELL_CHARS`` is refused naming its row and column."""
    steps = Steps(progress, cancel)
    steps.step(0.0, 1.0, "Reading file")
    p = Path(path)
    limit = max_bytes if max_bytes is not None else default_max_bytes()
    signature = file_signature(p)
    container, notes = check_file(p, format, limit)
    with no_gc():
        if container == "xlsx":
            parsed = _read_xlsx(p, format, limit, notes, steps, mapping)
        else:
            parsed = _read_csv(p, format, notes, steps, mapping)
    if not parsed.data_rows:
        parsed.store.close()
        raise ImportFileError(f"{p.name} has a header row but no data rows")
    parsed.signature = signature
    steps.within(0.99)
    return parsed


def file_signature(path: str | os.PathLike[str]) -> str:
    """The file's size and time of last change: a file read again with the same signature holds the
    same rows (an import checked against a dry run's baseline must read the rows that run read)."""
    st = Path(path).stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


class _Sink:
    """Takes rows as read: the first non-empty one is the header (columns mapped at once), the others go
    to the row store with their cleaned SKU."""

    def __init__(self, p: Path, format: str, container: str, notes: list[str],
                 mapping: dict[str, str | None] | None) -> None:
        self.p, self.format, self.container, self.notes, self.mapping = p, format, container, notes, mapping
        self.parsed: ParsedFile | None = None
        self.i_sku = 0
        self.store = RowStore()

    def add(self, cells: list[str], number: int) -> None:
        if self.parsed is None:
            self.parsed = _map_columns(self.p, self.format, self.container, cells, number, self.notes, self.mapping,
                                       self.store)
            self.i_sku = self.parsed.columns["sku"]
            return
        sku = cells[self.i_sku] if self.i_sku < len(cells) else ""
        if sku:
            sku = (unneutralise(sku) if self.container == "csv" else sku).strip()
        self.store.append(cells, number, sku)

    def result(self) -> ParsedFile:
        if self.parsed is None:
            raise ImportFileError(f"{self.p.name} is empty: no header row and no data")
        self.store.finish()
        return self.parsed


def check_file(p: Path, format: str, limit: int) -> tuple[str, list[str]]:
    """The checks made before anything is loaded (format, size, kind of file). Returns the container
    ("csv" or "xlsx") and notes; raises ImportFileError."""
    if format not in FORMATS:
        raise ImportFileError(f"unknown import format {format!r}; use one of {', '.join(FORMATS)}")
    name = p.name
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ImportFileError(f"{name}: cannot read the file ({exc.strerror or exc})") from exc
    if not p.is_file():
        raise ImportFileError(f"{name}: not a file")
    if size == 0:
        raise ImportFileError(f"{name} is empty")
    if size > limit:
        raise ImportFileError(
            f"{name} is {_mb(size)}, over the import limit of {_mb(limit)}; split it into smaller files "
            "or raise the limit (--max-size MB, or BACKOFFICE_IMPORT_MAX_MB)")
    with p.open("rb") as fh:
        magic = fh.read(8)
    notes: list[str] = []
    suffix = p.suffix.lower()
    if magic.startswith(_MAGIC_OLE):
        raise ImportFileError(f"{name} is an old-style Excel .xls workbook; save it as .xlsx or CSV and import that")
    if magic.startswith(_MAGIC_ZIP):
        if format == "csv":
            raise ImportFileError(f"{name} is an Excel workbook (a zip archive), not CSV text; use --format xlsx or auto")
        return "xlsx", notes
    if format == "xlsx":
        raise ImportFileError(f"{name} is not an XLSX workbook (it holds text, such as CSV); "
                              "use --format csv or auto")
    if suffix in (".xlsx", ".xlsm"):
        notes.append(f"{name} is named {suffix} but holds text, not a workbook: read as CSV")
    return "csv", notes


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n < 10 * 1024 * 1024 else f"{n / 1024 / 1024:.0f} MB"


# -- CSV ------------------------------------------------------------------------------------------------
MAX_CELL_CHARS = 1_000_000     # longest text accepted in one cell (Excel itself holds 32,767)
_LINE_CAP = 4 * MAX_CELL_CHARS  # a physical line longer than this is scanned for the oversize cell, not loaded
_HEAD_BYTES = 65536


def _lenient_cp1252(exc: UnicodeError) -> tuple[str, int]:
    """The five bytes Windows-1252 leaves undefined are read as Latin-1 (which maps every byte)."""
    assert isinstance(exc, UnicodeDecodeError)
    return exc.object[exc.start:exc.end].decode("latin-1"), exc.end


codecs.register_error("backoffice-cp1252", _lenient_cp1252)


def decode_bytes(data: bytes, name: str, notes: list[str]) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            notes.append(f"{name} starts with a UTF-8 mark but line {line} is not UTF-8: read as Windows-1252")
            return _legacy(data[3:]), "cp1252"
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(codec), "utf-16"
            except UnicodeDecodeError as exc:
                raise ImportFileError(f"{name} claims to be UTF-16 but byte {exc.start} is not: save it again as "
                                      "CSV UTF-8") from exc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        notes.append(f"{name} is not UTF-8 (line {line} has byte 0x{data[exc.start]:02x}): read as Windows-1252, "
                     "Excel's Western European encoding; save as \"CSV UTF-8\" to avoid this")
        return _legacy(data), "cp1252"


def _legacy(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined: Latin-1 maps every byte
        return data.decode("latin-1")


def sniff_delimiter(text: str) -> str:
    sample = text[:65536]
    if len(text) > len(sample):  # drop a partial last line
        sample = sample[: sample.rfind("\n") + 1] or sample
    best, best_score = ",", (0.0, 1)
    for d in _DELIMITERS:
        try:
            rows = [r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=d) if any(c.strip() for c in r)][:50]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = sum(1 for r in rows if len(r) == width) / len(rows)
        score = (round(consistent, 2), width)
        if score > best_score:
            best, best_score = d, score
    return best


class _Lines:
    """The physical lines of a text stream for csv.reader, counted; a NUL byte or a line too long to be a
    row of cells stops the read with a clear error."""

    def __init__(self, fh: io.TextIOBase, name: str) -> None:
        self.fh, self.name, self.line = fh, name, 0
        self.too_long = False

    def __iter__(self) -> Iterator[str]:
        readline = self.fh.readline
        while True:
            line = readline(_LINE_CAP)
            if not line:
                return
            self.line += 1
            if "\x00" in line:
                raise ImportFileError(f"{self.name} line {self.line} holds a NUL byte: this is not a CSV text file "
                                      "(a binary file, or UTF-16 without its byte-order mark?)")
            if len(line) >= _LINE_CAP and not line.endswith(("\n", "\r")):
                self.too_long = True
                raise csv.Error("field larger than field limit")
            yield line


def _open_text(p: Path, encoding: str) -> io.TextIOWrapper:
    """The file as text from its first character (a UTF-8 mark is skipped whatever the encoding)."""
    errors = "backoffice-cp1252" if encoding == "cp1252" else "strict"
    fh = p.open("rb")
    if encoding == "cp1252" and fh.read(3) != codecs.BOM_UTF8:
        fh.seek(0)
    return io.TextIOWrapper(fh, encoding=encoding, errors=errors, newline="")


def _sample(text: io.TextIOWrapper) -> str:
    """The start of the file for sniffing the delimiter (an undecodable byte in it is dealt with when
    the rows are read)."""
    out: list[str] = []
    try:
        while sum(map(len, out)) < _HEAD_BYTES:
            piece = text.read(4096)
            if not piece:
                break
            out.append(piece)
    except UnicodeDecodeError:
        pass
    return "".join(out)


def _first_bad_utf8(p: Path) -> tuple[int, int]:
    """The line and value of the first byte of the file that is not UTF-8 (read piece by piece)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with p.open("rb") as fh:
        while True:
            piece = fh.read(1 << 20)
            try:
                decoder.decode(piece, final=not piece)
            except UnicodeDecodeError as exc:
                pending = exc.object   # the decoder's buffered bytes plus this piece
                offset = len(pending) - len(piece)
                return line + piece[:max(0, exc.start - offset)].count(b"\n"), pending[exc.start]
            if not piece:
                return line, 0
            line += piece.count(b"\n")


def _detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8"


def _read_csv(p: Path, format: str, notes: list[str], steps: Steps,
              mapping: dict[str, str | None] | None) -> ParsedFile:
    name = p.name
    with p.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
    total = max(1, p.stat().st_size)
    encoding = _detect_encoding(head)
    csv.field_size_limit(MAX_CELL_CHARS)
    while True:
        first_notes = list(notes)
        try:
            parsed = _read_csv_as(p, format, encoding, first_notes, steps, mapping, total)
            notes[:] = first_notes
            return parsed
        except UnicodeDecodeError as exc:
            if encoding == "utf-16":
                raise ImportFileError(f"{name} claims to be UTF-16 but is not valid UTF-16: save it again as "
                                      "CSV UTF-8") from exc
            line, byte = _first_bad_utf8(p)
            if encoding == "utf-8-sig":
                notes.append(f"{name} starts with a UTF-8 mark but line {line} is not UTF-8: read as Windows-1252")
            else:
                notes.append(f"{name} is not UTF-8 (line {line} has byte 0x{byte:02x}): read as Windows-1252, "
                             "Excel's Western European encoding; save as \"CSV UTF-8\" to avoid this")
            encoding = "cp1252"


def _read_csv_as(p: Path, format: str, encoding: str, notes: list[str], steps: Steps,
                 mapping: dict[str, str | None] | None, total: int) -> ParsedFile:
    name = p.name
    with _open_text(p, encoding) as text:
        sample = _sample(text)
    delimiter = sniff_delimiter(sample)
    del sample
    with _open_text(p, encoding) as text:
        lines = _Lines(text, name)
        reader = csv.reader(lines, delimiter=delimiter)
        sink = _Sink(p, format, "csv", notes, mapping)
        n = 0
        row_line = 1
        try:
            for row in reader:
                n += 1
                if row and (len(row) > 1 or row[0].strip()):
                    sink.add(row, n)
                row_line = lines.line + 1
                if n % 20000 == 0:
                    steps.within(0.05 + 0.9 * min(1.0, text.buffer.tell() / total))
        except csv.Error as exc:
            if "field larger than field limit" in str(exc) or lines.too_long:
                header = sink.parsed.header if sink.parsed is not None else []
                col = _oversize_column(p, encoding, delimiter, row_line)
                where = f"column {header[col]!r}" if col is not None and col < len(header) else (
                    f"column {_col_letter(col)}" if col is not None else "a cell")
                raise ImportFileError(
                    f"{name} row {n + 1}, {where}: the cell holds more than {MAX_CELL_CHARS:,} characters, the "
                    "most one cell may hold; shorten it (or check the file's quotes: an unclosed quote makes the "
                    "rest of the file one cell)") from None
            raise ImportFileError(f"{name} row {n + 1}: {exc}") from exc
    parsed = sink.result()
    parsed.encoding, parsed.delimiter = encoding, delimiter
    if delimiter != ",":
        notes.append(f"{name}: columns separated by {'tab' if delimiter == chr(9) else repr(delimiter)}")
    return parsed


def _oversize_column(p: Path, encoding: str, delimiter: str, start_line: int) -> int | None:
    """Which column of the row starting on physical line ``start_line`` holds a cell longer than
    MAX_CELL_CHARS: the row is scanned piece by piece (quotes followed), never held whole."""
    with _open_text(p, encoding) as text:
        for _ in range(start_line - 1):
            if not text.readline(_LINE_CAP):
                return None
        col, length, quoted, at_start, prev_quote = 0, 0, False, True, False
        while True:
            piece = text.read(65536)
            if not piece:
                return None
            for ch in piece:
                if quoted:
                    if ch == '"':
                        quoted, prev_quote = False, True
                        continue
                    length += 1
                elif prev_quote and ch == '"':   # a doubled quote inside a quoted cell
                    quoted, prev_quote = True, False
                    length += 1
                else:
                    prev_quote = False
                    if ch == delimiter:
                        col, length, at_start = col + 1, 0, True
                        continue
                    if ch in "\r\n":
                        return None
                    if ch == '"' and at_start:
                        quoted, at_start = True, False
                        continue
                    length += 1
                    at_start = False
                if length > MAX_CELL_CHARS:
                    return col


# -- XLSX -----------------------------------------------------------------------------------------------
def check_zip(p: Path, limit: int) -> None:
    name = p.name
    try:
        with zipfile.ZipFile(p) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFileError(f"{name} is not a readable XLSX workbook (damaged zip archive: {exc})") from exc
    names = {i.filename for i in infos}
    if "xl/workbook.xml" not in names:
        raise ImportFileError(f"{name} is a zip archive but not an Excel workbook (no xl/workbook.xml)")
    total = sum(i.file_size for i in infos)
    max_total = limit * XLSX_MAX_UNCOMPRESSED_FACTOR
    if total > max_total:
        raise ImportFileError(f"{name} would unpack to {_mb(total)}, over the limit of {_mb(max_total)}; "
                              "refused without unpacking it (split the workbook or export it as CSV)")
    for i in infos:
        if i.file_size > XLSX_RATIO_MIN_BYTES and i.file_size > XLSX_MAX_RATIO * max(1, i.compress_size):
            raise ImportFileError(
                f"{name} looks like a zip bomb: {i.filename} unpacks from {_mb(i.compress_size)} to {_mb(i.file_size)} "
                f"(over {XLSX_MAX_RATIO}:1); refused without unpacking it")


def cell_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return format(v, ".15g")  # what Excel displays: 30.3, not 30.299999999999997
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    return str(v)


def _read_xlsx(p: Path, format: str, limit: int, notes: list[str], steps: Steps,
               mapping: dict[str, str | None] | None) -> ParsedFile:
    check_zip(p, limit)
    from python_calamine import CalamineWorkbook

    name = p.name
    sink = _Sink(p, format, "xlsx", notes, mapping)
    try:
        wb = CalamineWorkbook.from_path(str(p))
        if not wb.sheet_names:
            raise ImportFileError(f"{name} has no worksheet")
        sheet = wb.get_sheet_by_index(0)
        start_row = sheet.start[0] if sheet.start else 0
        height = max(1, sheet.height)
        for i, row in enumerate(sheet.iter_rows()):
            if i % 20000 == 0:
                steps.within(0.05 + 0.9 * i / height)
            cells = [c if type(c) is str else cell_text(c) for c in row]
            if any(c.strip() for c in cells):
                while cells and cells[-1] == "":
                    cells.pop()
                long = next((j for j, c in enumerate(cells) if len(c) > MAX_CELL_CHARS), None)
                if long is not None:
                    header = sink.parsed.header if sink.parsed is not None else []
                    where = repr(header[long]) if long < len(header) else _col_letter(long)
                    raise ImportFileError(f"{name} row {start_row + i + 1}, column {where}: the cell holds more than "
                                          f"{MAX_CELL_CHARS:,} characters, the most one cell may hold; shorten it")
                sink.add(cells, start_row + i + 1)
        wb.close()
    except ImportFileError:
        raise
    except Exception as exc:  # calamine's errors: damaged or encrypted workbooks
        raise ImportFileError(f"{name} cannot be read as an XLSX workbook: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    return sink.result()


# -- columns --------------------------------------------------------------------------------------------
def is_shopify(header: list[str]) -> bool:
    low = {h.strip().lower() for h in header}
    return "handle" in low and bool(low & {"variant sku", "variant price", "body (html)", "option1 value"})


def _col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _map_columns(p: Path, format: str, container: str, header_cells: list[str], header_row: int,
                 notes: list[str], mapping: dict[str, str | None] | None, store: RowStore) -> ParsedFile:
    name = p.name
    header = [h.strip() for h in header_cells]
    if header_row != 1:
        notes.append(f"{name}: the header is on row {header_row} (rows above it are empty)")
    layout = "shopify" if format == "shopify" or is_shopify(header) else "native"
    columns: dict[str, int] = {}
    options: dict[int, list[int | None]] = {}
    options_column = None
    ignored: list[str] = []
    seen: dict[str, int] = {}
    problems: list[str] = []
    mapping = {k.strip(): v for k, v in mapping.items()} if mapping else {}
    unknown = [k for k in mapping if k not in header]
    if unknown:
        shown = ", ".join(h for h in header if h)[:200] or "nothing"
        raise ImportFileError(f"{name}: no column named {', '.join(map(repr, unknown))} to map "
                              f"(the header row has: {shown})")
    for i, h in enumerate(header):
        if not h:
            continue
        mapped = h in mapping
        if mapped:
            target = mapping[h]
            if target is None or not target.strip():
                ignored.append(h)
                continue
            key, m = native_key(target, "native" if layout == "native" else "shopify")
            if key is None and m is None:
                problems.append(f"column {h!r} is mapped to {target!r}, which is not a product column")
                continue
        elif layout == "shopify":
            key = SHOPIFY_FIELDS.get(h) or SHOPIFY_FIELDS.get(shopify_case(h))
            m = _SHOPIFY_OPTION_RE.match(h.lower())
        else:
            key, m = native_key(h, "native")
        ident = key or (f"option{m.group(1)}_{m.group(2)}" if m else None)
        if ident is None:
            ignored.append(h)
            continue
        if ident in seen:
            if mapped or header[seen[ident]] in mapping:
                problems.append(f"columns {header[seen[ident]]!r} and {h!r} both give {ident}")
            else:
                problems.append(f"column {h!r} appears twice (columns {_col_letter(seen[ident])} and {_col_letter(i)})")
            continue
        seen[ident] = i
        if m and key is None:
            slot = options.setdefault(int(m.group(1)), [None, None])
            slot[0 if m.group(2) == "name" else 1] = i
        elif key == "options":
            options_column = i
        else:
            columns[key] = i
    if problems:
        raise ImportFileError(f"{name}: " + "; ".join(problems))
    required = REQUIRED[layout]
    missing = [r for r in required if (layout == "native" and r not in columns)
               or (layout == "shopify" and SHOPIFY_FIELDS[r] not in columns)]
    if missing:
        shown = ", ".join(h for h in header if h)[:200] or "nothing"
        kind = "Shopify" if layout == "shopify" else "product"
        raise ImportFileError(f"{name}: missing required column{'s' if len(missing) > 1 else ''} "
                              f"{', '.join(missing)} for a {kind} import (the header row has: {shown})")
    option_columns: list[tuple[int | None, int]] = []
    for slot in sorted(options):
        name_i, value_i = options[slot]
        if value_i is None:
            ignored.append(header[name_i])  # type: ignore[index]
            continue
        option_columns.append((name_i, value_i))
    if options_column is not None and option_columns:
        raise ImportFileError(f"{name}: use either the options column or option1_name/option1_value ..., not both")
    if layout == "native" and ignored:
        notes.append(f"{name}: columns not imported: {', '.join(ignored[:10])}{' ...' if len(ignored) > 10 else ''}")
    return ParsedFile(path=str(p), format=layout, container=container, header=header, store=store,
                      columns=columns, option_columns=option_columns, options_column=options_column,
                      ignored_columns=ignored, notes=notes, header_row=header_row)



def native_key(name: str, layout: str) -> tuple[str | None, re.Match[str] | None]:
    """A header (or a mapping's target) read as a native column: (field, None), (None, option match) or
    (None, None) when it is not one. Spaces and dashes count as underscores ("Compare at price")."""
    norm = re.sub(r"[\s\-]+", "_", name.strip().lower())
    if norm in NATIVE_FIELDS or norm == "options" or (layout == "shopify" and norm == "published"):
        return norm, None
    m = _OPTION_RE.match(norm.replace("_", " ").replace("  ", " ")) or _OPTION_RE.match(norm)
    return None, m


def shopify_case(h: str) -> str:
    low = h.lower()
    for k in SHOPIFY_FIELDS:
        if k.lower() == low:
            return k
    return h
