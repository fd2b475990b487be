"""Product import and export: native CSV and XLSX, and Shopify's product CSV.

API (plain values, so the GUI can run each call in a worker with progress and cancel)::

    read_products_file(path, format="auto", *, max_bytes=None, progress=None, cancel=None, mapping=None)
            -> ParsedFile
        format: auto | csv | xlsx | shopify. Raises ImportFileError (a ValidationError) for a file that
        cannot be a product list: over the size limit, a zip bomb, empty, binary, missing columns.
        mapping: {file header: native column name, or None to ignore that column}; headers it does not
        name are recognised as usual. Problems still name the file's own headers ("Retail").
    preview_file(path, format="auto", rows=20, *, max_bytes=None) -> FilePreview
        the header and first rows (only the start of the file is read), the layout (native/shopify),
        and ``suggested``: every header mapped to its likely native column or None ("Item code" -> sku,
        "Retail" -> price, "Brand" -> vendor). No column checks, so a file that needs mapping previews.
    mapping_problems(mapping, layout="native") -> list[str]
        why a complete mapping cannot be used (unknown or repeated columns, sku not mapped ...).
    parse_map_options(["File header=column", ...]) -> mapping   (the CLI's --map; "Header=" ignores)
    dry_run(db, parsed, *, progress=None, cancel=None, on_conflict="refuse", changed_since=None) -> ImportReport
        every row checked against the store; counts (new_products, new_variants, updated_products,
        updated_variants, unchanged_variants), ``problems``: Problem(row, column, message) (the first
        10,000; ``problem_count`` all), ``conflicts``: ImportConflict(row, column, entity, label, field,
        file_value, current_value, file_version, current_version, changed_by, changed_at), and
        ``baseline``: the versions it read, for apply_import. Writes nothing; memory does not grow with
        the rows (they are read into a temporary SQLite file and checked in chunks).
    apply_import(db, actor, parsed, *, operation_id=None, progress=None, cancel=None, on_conflict="refuse",
                 baseline=None, changed_since=None) -> ImportResult
        the same checks inside one write transaction, then one changeset (kind "import"). Raises
        ImportRejected (a ValidationError with every problem, and ``.report``) if any row is bad, and
        ImportConflicts (an ImportRejected) for conflicts unless on_conflict is "skip" or "overwrite";
        nothing is written then. No changes: no changeset, ``changeset_id`` None. A replayed
        ``operation_id`` returns the first result (``replayed`` True) and writes nothing.
    write_error_report(report, parsed, out_path) -> Path
        the file's rows with an "errors" column and the bad cells highlighted (XLSX).
    export_products(db, path, format="csv", filter=None, *, progress=None, cancel=None) -> int
        format: csv | xlsx | shopify; filter: a catalog_grid.VariantFilter (None: everything); returns the
        number of variant rows written. The file appears only when complete.

``progress(fraction, text)`` is called now and then; ``cancel()`` returning True stops the work
(Cancelled, a ServiceError; an import then writes nothing, an export leaves no file).

Native columns (one row per variant, product fields repeated on each row of the product)::

    handle, title, description, vendor, product_type, status, category, tags, seo_title, seo_description,
    sku, barcode, price, compare_at_price, cost, weight_grams, variant_status,
    option1_name, option1_value, option2_name, option2_value, option3_name, option3_value (more if needed)

or, instead of the optionN columns, ``options`` written as ``size=M; colour=Red``; and ``version``,
``product_version``: the row's versions as exported (Shopify: "Backoffice Version", "Backoffice Product
Version", columns Shopify's importer ignores). Headers match case-insensitively ("Compare at price"
works); other columns are ignored with a note.

Stale rows (no lost updates): a row whose version is older than the store's (the file's version
cells; else the ``baseline`` of the dry run the import was checked with; else, with ``changed_since``,
a row the store changed after that time) is compared field by field. With the changesets' history of
the row since that version: a cell equal to the value it had then is no change, a field only the file
changed is written, a field both changed is a conflict. Without that history (a change made outside
changesets, or no version), every cell that differs from the store is a conflict. Conflicts are
refused (default), skipped (the row is left as it is) or overwritten. Versions are checked again on the
rows read locked inside the import's transaction, so of two imports checked against the same state the
second to commit sees the first's changes as conflicts.

Rules:
- Only ``sku`` is required (Shopify: Handle and Variant SKU). Variants are matched by SKU, products by
  handle. A SKU not in the store is a new variant of the product named by ``handle`` (created when the
  handle is new: it then needs a title and a price). A row without a handle updates the SKU's variant and
  its product. A SKU that belongs to another product in the store is an error (no moves).
- A column absent from the file leaves that field alone; a present but empty cell clears it (description,
  vendor, type, category, tags, SEO fields, barcode, compare-at price, cost, weight). Title, price and the
  statuses cannot be cleared: an empty title or status keeps the stored one, an empty price is an error.
- Product fields may be left empty on a product's later rows (as Shopify does); two different non-empty
  values for one product are an error naming both rows.
- ``category`` is the full path of category names, "Apparel > Shirts" (case and spaces around ">" do
  not matter), exactly as the export writes it. Unknown paths are errors; categories are not created.
- ``tags``: comma separated. Money: "12.99" (a decimal comma "12,99" is accepted too), never negative,
  at most two decimals; compare-at must not be below the price.
- Options: names match an attribute's code or name, values an attribute value (exactly, else ignoring
  case). Missing attributes and values ARE created (and audited): importing a new size is normal.
  The options of an existing variant cannot be changed by an import (that is the variant generator's
  job): a different value is an error; empty option cells mean "as stored".
- Shopify: continuation rows (Handle plus variant columns) belong to the product above; image-only rows
  are skipped with a note; "Title / Default Title" means no options; Published sets the status of new
  products when there is no Status column. Images and inventory columns are not imported. On export a
  product's option slots are its variants' attributes in attribute order, at most three (Shopify's
  limit); the import ignores the missing ones, so the round trip still changes nothing.
- Files: UTF-8 with or without BOM, UTF-16 with BOM, else Windows-1252 (with a note); delimiter
  sniffed among , ; tab |. XLSX: the first sheet, read with calamine after checking the zip (size
  limit, unpacked size, compression ratio). A CSV named .xlsx is read as CSV with a note (unless
  --format xlsx is forced). Size limit: 100 MB (``max_bytes``, or BACKOFFICE_IMPORT_MAX_MB).
- CSV export neutralises text cells a spreadsheet could run as a formula (starting with = + - @ tab CR,
  or quotes followed by one of those) with a leading single quote; import removes exactly that quote, so
  an exported file imports back unchanged (no changeset). XLSX writes such text as a plain string cell
  (never a formula) with the quote-prefix style, and imports string cells exactly as they are.
- A cell longer than 1,000,000 characters is refused naming its row and column (read without loading it).
"""

from backoffice.services.importexport.common import (
    Cancelled,
    ImportConflicts,
    ImportFileError,
    ImportRejected,
    Problem,
    neutralise,
    unneutralise,
)
from backoffice.services.importexport.exporting import export_products
from backoffice.services.importexport.importing import (
    ImportReport,
    ImportResult,
    apply_import,
    dry_run,
)
from backoffice.services.importexport.mapping import (
    TARGETS,
    FilePreview,
    mapping_problems,
    parse_map_options,
    preview_file,
    suggest_mapping,
)
from backoffice.services.importexport.model import ON_CONFLICT, Baseline, ImportConflict
from backoffice.services.importexport.reading import MAX_CELL_CHARS, ParsedFile, read_products_file
from backoffice.services.importexport.report import write_error_report

__all__ = [
    "MAX_CELL_CHARS",
    "ON_CONFLICT",
    "TARGETS",
    "Baseline",
    "Cancelled",
    "ImportConflict",
    "ImportConflicts",
    "FilePreview",
    "ImportFileError",
    "ImportRejected",
    "ImportReport",
    "ImportResult",
    "ParsedFile",
    "Problem",
    "apply_import",
    "dry_run",
    "export_products",
    "mapping_problems",
    "neutralise",
    "parse_map_options",
    "preview_file",
    "read_products_file",
    "suggest_mapping",
    "unneutralise",
    "write_error_report",
]
