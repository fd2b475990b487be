"""The import/export area of the operations contract: product files in (a look at the file, a dry run
listing every problem, the import as one changeset, an annotated error report) and out (CSV, XLSX,
Shopify CSV). Files are paths; long work reports progress and can be cancelled through callbacks.

A file is read again by each call that needs its rows (a dry run, the import, an error report); an
import checked against a dry run's ``baseline`` refuses a file that changed since that run read it.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from backoffice.operations.base import Area, CancelCallback, ProgressCallback
from backoffice.operations.changes import ATTRIBUTES, CHANGESETS, PRICES, PRODUCTS, VARIANTS, Changes
from backoffice.services import importexport as service
from backoffice.services.catalog_grid import VariantFilter
from backoffice.services.importexport import (
    ON_CONFLICT,
    TARGETS,
    Baseline,
    Cancelled,
    FilePreview,
    ImportConflict,
    ImportConflicts,
    ImportFileError,
    ImportRejected,
    ImportReport,
    ImportResult,
    Problem,
    mapping_problems,
    parse_map_options,
)
from backoffice.services.importexport.common import category_key, category_paths

__all__ = ["ON_CONFLICT", "TARGETS", "Baseline", "Cancelled", "FilePreview", "ImportConflict", "ImportConflicts",
           "ImportExportOperations", "ImportFileError", "ImportRejected", "ImportReport", "ImportResult", "Mapping",
           "Problem", "VariantFilter", "category_key", "mapping_problems", "parse_map_options"]

Mapping = dict[str, str | None]     # file header -> native column ("Retail" -> "price"), None: not imported
PathLike = str | os.PathLike[str]


class ImportExportOperations(Area):
    # -- reading a file --------------------------------------------------------------------------------
    def preview_file(self, path: PathLike, format: str = "auto", *, rows: int = 20,
                     max_bytes: int | None = None) -> FilePreview:
        """The header, the first rows and a suggested mapping of each column (only the file's start is read)."""
        return service.preview_file(path, format, rows, max_bytes=max_bytes)

    def category_paths(self) -> dict[int, str]:
        """Every category by the path files name it with: ``{3: "Apparel > Shirts"}``."""
        with self._db.read() as session:
            return category_paths(session)

    # -- import ----------------------------------------------------------------------------------------
    def check(self, path: PathLike, format: str = "auto", *, mapping: Mapping | None = None,
              on_conflict: str = "refuse", changed_since: dt.datetime | None = None, max_bytes: int | None = None,
              progress: ProgressCallback | None = None, cancel: CancelCallback | None = None) -> ImportReport:
        """The dry run: every row read and checked against the store, counts, problems and conflicts;
        nothing is written. Its ``baseline`` (the versions it read) goes to :meth:`apply`. A file that
        cannot be a product list raises ImportFileError; cancelling raises Cancelled."""
        parsed = service.read_products_file(path, format, max_bytes=max_bytes, progress=_part(progress, 0.0, 0.4),
                                            cancel=cancel, mapping=mapping)
        try:
            return service.dry_run(self._db, parsed, progress=_part(progress, 0.4, 1.0), cancel=cancel,
                                   on_conflict=on_conflict, changed_since=changed_since)
        finally:
            parsed.store.close()

    def apply(self, path: PathLike, format: str = "auto", *, mapping: Mapping | None = None,
              on_conflict: str = "refuse", baseline: ImportReport | Baseline | None = None,
              changed_since: dt.datetime | None = None, max_bytes: int | None = None, op_id: str | None = None,
              error_report: PathLike | None = None, progress: ProgressCallback | None = None,
              cancel: CancelCallback | None = None) -> ImportResult:
        """Import the file, all or nothing, as one changeset (the same ``op_id`` twice imports once).

        Bad rows raise ImportRejected (its ``report`` lists them; with ``error_report`` the annotated rows
        are saved there too), conflicts ImportConflicts unless ``on_conflict`` is "skip" or "overwrite";
        nothing is written then. ``baseline``: the dry run's report the user saw (rows changed since it
        are conflicts)."""
        parsed = service.read_products_file(path, format, max_bytes=max_bytes, progress=_part(progress, 0.0, 0.3),
                                            cancel=cancel, mapping=mapping)
        try:
            try:
                result = service.apply_import(self._db, self._actor, parsed, operation_id=op_id,
                                              progress=_part(progress, 0.3, 1.0), cancel=cancel,
                                              on_conflict=on_conflict, baseline=baseline,
                                              changed_since=changed_since)
            except ImportRejected as exc:
                if error_report is not None and exc.report.problems:
                    service.write_error_report(exc.report, parsed, error_report)
                raise
        finally:
            parsed.store.close()
        if result.changeset_id is not None and not result.replayed:
            # which rows an import wrote is not told: every view of them reloads
            self.changed(Changes.of(PRODUCTS, PRICES, VARIANTS, ATTRIBUTES, CHANGESETS))
        return result

    def write_error_report(self, path: PathLike, report: ImportReport, out_path: PathLike, format: str = "auto", *,
                           mapping: Mapping | None = None, max_bytes: int | None = None) -> Path:
        """The file's rows with an "errors" column and the bad cells of ``report`` highlighted (XLSX)."""
        parsed = service.read_products_file(path, format, max_bytes=max_bytes, mapping=mapping)
        try:
            return service.write_error_report(report, parsed, out_path)
        finally:
            parsed.store.close()

    # -- export ----------------------------------------------------------------------------------------
    def export(self, path: PathLike, format: str = "csv", filter: VariantFilter | None = None, *,
               progress: ProgressCallback | None = None, cancel: CancelCallback | None = None) -> int:
        """Write the variants ``filter`` matches (None: all) to ``path`` (csv, xlsx or shopify); the file
        appears only when complete. Returns the number of rows written."""
        return service.export_products(self._db, path, format, filter, progress=progress, cancel=cancel)


def _part(progress: ProgressCallback | None, start: float, end: float) -> ProgressCallback | None:
    """``progress`` for one stage of a call: its 0..1 maps onto ``start..end`` of the whole."""
    if progress is None:
        return None

    def report(fraction: float | None, text: str | None) -> None:
        progress(None if fraction is None else start + (end - start) * fraction, text)
    return report
