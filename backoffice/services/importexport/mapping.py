"""Column mapping for files whose headers are not the native ones ("Item code", "Retail", "Brand"):
a quick look at a file (its header and first rows, nothing else loaded), a suggested mapping of each
header to a native column, the checks a mapping must pass, and the ``--map "Header=column"`` syntax of
the command line. ``read_products_file(..., mapping=...)`` then reads the file with that mapping."""

from __future__ import annotations

import csv
import difflib
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from backoffice.services.base import ValidationError
from backoffice.services.importexport.common import (
    SHOPIFY_FIELDS,
    ImportFileError,
    default_max_bytes,
)
from backoffice.services.importexport.reading import (
    NATIVE_FIELDS,
    REQUIRED,
    cell_text,
    check_zip,
    decode_bytes,
    is_shopify,
    native_key,
    shopify_case,
    sniff_delimiter,
    check_file,
)

PREVIEW_BYTES = 1024 * 1024          # a preview decodes at most this much of a CSV file
OPTION_TARGETS = tuple(f"option{i}_{part}" for i in range(1, 4) for part in ("name", "value"))
#: every native column a file header can be mapped to, in the order the wizard lists them
TARGETS: tuple[str, ...] = (*NATIVE_FIELDS, "options", *OPTION_TARGETS)
SHOPIFY_TARGETS: tuple[str, ...] = (*TARGETS, "published")

# Other names for the native columns, as they are spelled in spreadsheets from suppliers, other shop
# systems and ERPs (compared after normalising: lower case, punctuation and "(...)" removed).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "handle": ("url handle", "slug", "product handle", "url key", "permalink"),
    "title": ("name", "product name", "product title", "item name", "article name", "item title"),
    "description": ("body", "body html", "long description", "product description", "details", "desc"),
    "vendor": ("brand", "manufacturer", "maker", "brand name"),
    "product_type": ("type", "product type", "kind", "item type"),
    "status": ("product status", "state"),
    "category": ("category path", "product category", "categories"),
    "tags": ("tag", "keywords", "labels"),
    "seo_title": ("meta title", "page title", "search title"),
    "seo_description": ("meta description", "search description"),
    "sku": ("item code", "article number", "article no", "art no", "item number", "item no", "product code",
            "variant sku", "code", "reference", "ref", "stock code", "sku code", "part number", "item id"),
    "barcode": ("ean", "ean13", "ean 13", "upc", "gtin", "gtin13", "isbn", "variant barcode", "bar code"),
    "price": ("retail", "retail price", "sale price", "selling price", "unit price", "variant price", "sell price",
              "price incl vat", "price inc vat", "our price"),
    "compare_at_price": ("compare at", "compare price", "was price", "msrp", "rrp", "list price", "original price",
                         "variant compare at price", "old price"),
    "cost": ("cost price", "unit cost", "purchase price", "cost per item", "buy price", "wholesale price",
             "net cost", "landed cost"),
    "weight_grams": ("weight", "weight g", "weight in grams", "grams", "variant grams", "gross weight"),
    "variant_status": ("variant state",),
}
_FUZZY_CUTOFF = 0.86


def normalise_header(text: str) -> str:
    """"Weight (g)" -> "weight", "Compare-at price" -> "compare at price": how headers are compared."""
    text = re.sub(r"\([^)]*\)", " ", text.lower())
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


_BY_NAME: dict[str, str] = {}
for _target, _names in SYNONYMS.items():
    for _name in _names:
        _BY_NAME[normalise_header(_name)] = _target


@dataclass
class FilePreview:
    """The first rows of a file and a suggested mapping of its headers. ``format`` is the column
    layout ("native" or "shopify"), ``container`` "csv" or "xlsx"; ``suggested`` maps every non-empty
    header to a native column (see ``TARGETS``) or None (not imported)."""

    path: str
    format: str
    container: str
    headers: list[str]
    sample_rows: list[list[str]]
    suggested: dict[str, str | None]
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return Path(self.path).name

    def samples(self, header: str, limit: int = 3) -> list[str]:
        """Up to ``limit`` distinct non-empty values of a column, for showing next to its header."""
        i = self.headers.index(header)
        out: list[str] = []
        for r in self.sample_rows:
            v = r[i].strip() if i < len(r) else ""
            if v and v not in out:
                out.append(v)
                if len(out) == limit:
                    break
        return out


# -- suggestions ----------------------------------------------------------------------------------------
def suggest_mapping(headers: list[str], layout: str = "native") -> dict[str, str | None]:
    """Each header's most likely native column, or None. A column is suggested for one header only:
    an exact native name wins over a synonym, a synonym over a near spelling, then the leftmost."""
    scored: dict[str, tuple[str | None, int]] = {}
    for h in headers:
        if h.strip():
            scored[h] = _guess(h, layout)
    best: dict[str, tuple[int, int]] = {}
    for pos, (h, (target, score)) in enumerate(scored.items()):
        if target is not None and (target not in best or score > best[target][0]):
            best[target] = (score, pos)
    winners = {pos for _, pos in best.values()}
    return {h: (target if pos in winners else None) for pos, (h, (target, _)) in enumerate(scored.items())}


def _guess(header: str, layout: str) -> tuple[str | None, int]:
    if layout == "shopify":
        key = SHOPIFY_FIELDS.get(header) or SHOPIFY_FIELDS.get(shopify_case(header))
        if key:
            return key, 3
        m = re.match(r"^option(\d+) (name|value)$", header.strip().lower())
        return (f"option{m.group(1)}_{m.group(2)}", 3) if m else (None, 0)
    key, m = native_key(header, "native")
    if key:
        return key, 3
    if m:
        return f"option{m.group(1)}_{m.group(2)}", 3
    norm = normalise_header(header)
    if not norm:
        return None, 0
    underscored = norm.replace(" ", "_")
    if underscored in NATIVE_FIELDS:          # "Product type (text)" -> product_type
        return underscored, 3
    if norm in _BY_NAME:
        return _BY_NAME[norm], 2
    close = difflib.get_close_matches(norm, [*_BY_NAME, *(f.replace("_", " ") for f in NATIVE_FIELDS)], n=1,
                                      cutoff=_FUZZY_CUTOFF)
    if close:
        name = close[0]
        return _BY_NAME.get(name) or name.replace(" ", "_"), 1
    return None, 0


# -- checks ---------------------------------------------------------------------------------------------
def mapping_problems(mapping: dict[str, str | None], layout: str = "native") -> list[str]:
    """What makes a complete mapping unusable: unknown columns, a column given twice, a required one
    missing, both ``options`` and optionN columns. Empty when the mapping can be read with."""
    targets = SHOPIFY_TARGETS if layout == "shopify" else TARGETS
    problems: list[str] = []
    seen: dict[str, str] = {}
    for header, target in mapping.items():
        if not target:
            continue
        if target not in targets:
            problems.append(f"{header!r} is mapped to {target!r}, which is not a product column")
        elif target in seen:
            problems.append(f"{seen[target]!r} and {header!r} are both mapped to {target}")
        else:
            seen[target] = header
    required = ("handle", "sku") if layout == "shopify" else REQUIRED["native"]
    for r in required:
        if r not in seen:
            problems.append(f"no column is mapped to {r}, which is required")
    if "options" in seen and any(t in seen for t in OPTION_TARGETS):
        problems.append("use either the options column or option1_name/option1_value ..., not both")
    for i in range(1, 4):
        if f"option{i}_name" in seen and f"option{i}_value" not in seen:
            problems.append(f"option{i}_name is mapped but option{i}_value is not")
    return problems


def parse_map_options(items: tuple[str, ...] | list[str]) -> dict[str, str | None]:
    """``["Item code=sku", "Notes="]`` -> ``{"Item code": "sku", "Notes": None}`` (empty, "ignore" or
    "-" after the "=" ignores the column). Raises ValidationError naming every bad item."""
    out: dict[str, str | None] = {}
    problems: list[tuple[str, str, str]] = []
    for item in items:
        header, sep, target = item.rpartition("=")
        header, target = header.strip(), target.strip()
        if not sep or not header:
            problems.append(("--map", "", f"{item!r} is not \"File header=column\""))
            continue
        if target.lower() in ("", "ignore", "-", "none"):
            out[header] = None
            continue
        key, m = native_key(target, "shopify")
        name = key or (f"option{m.group(1)}_{m.group(2)}" if m else None)
        if name is None:
            problems.append(("--map", header, f"{target!r} is not a product column; use one of {', '.join(TARGETS)}"))
            continue
        out[header] = name
    if problems:
        raise ValidationError(problems)
    return out


# -- preview --------------------------------------------------------------------------------------------
def preview_file(path: str | os.PathLike[str], format: str = "auto", rows: int = 20, *,
                 max_bytes: int | None = None) -> FilePreview:
    """The header, the first ``rows`` data rows and a suggested mapping, reading only the start of the
    file (the first megabyte of a CSV). Makes the same checks as the import before reading anything, but
    not the column checks: a file whose headers need mapping previews fine."""
    p = Path(path)
    limit = max_bytes if max_bytes is not None else default_max_bytes()
    container, notes = check_file(p, format, limit)
    if container == "xlsx":
        raw = _first_xlsx_rows(p, limit, rows + 1)
    else:
        raw = _first_csv_rows(p, rows + 1, notes)
    if not raw:
        raise ImportFileError(f"{p.name} is empty: no header row and no data")
    header = [h.strip() for h in raw[0]]
    width = len(header)
    sample = [(r + [""] * (width - len(r)))[:width] for r in raw[1:]]
    layout = "shopify" if format == "shopify" or is_shopify(header) else "native"
    return FilePreview(str(p), layout, container, header, sample, suggest_mapping(header, layout), notes)


def _first_csv_rows(p: Path, n: int, notes: list[str]) -> list[list[str]]:
    size = p.stat().st_size
    with p.open("rb") as fh:
        data = fh.read(PREVIEW_BYTES)
    cut = size > len(data)
    if cut and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        data = data[: data.rfind(b"\n") + 1] or data   # a whole number of lines (UTF-8 safe)
    elif cut:
        data = data[: len(data) - len(data) % 2]        # UTF-16: whole code units
    text, _ = decode_bytes(data, p.name, notes)
    delimiter = sniff_delimiter(text)
    out: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if row and (len(row) > 1 or row[0].strip()):
                out.append(row)
                if len(out) == n:
                    return out
    except csv.Error:
        pass   # the cut fell inside a quoted cell: the rows before it are shown
    if cut and len(out) > 1:
        out.pop()   # the last row may be cut short
    return out


def _first_xlsx_rows(p: Path, limit: int, n: int) -> list[list[str]]:
    check_zip(p, limit)
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(p))
        try:
            if not wb.sheet_names:
                raise ImportFileError(f"{p.name} has no worksheet")
            out: list[list[str]] = []
            for row in wb.get_sheet_by_index(0).iter_rows():
                cells = [cell_text(c) for c in row]
                if any(c.strip() for c in cells):
                    out.append(cells)
                    if len(out) == n:
                        break
            return out
        finally:
            wb.close()
    except ImportFileError:
        raise
    except Exception as exc:  # calamine's errors: damaged or encrypted workbooks
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImportFileError(f"{p.name} cannot be read as an XLSX workbook: {first}") from exc
