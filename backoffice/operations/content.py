"""The content area of the operations contract: description templates (saved, previewed on one product,
applied in bulk as one revertible changeset) and the SEO and content checks (a summary per check, the
products with their score and failing checks, the report as a file, the store's thresholds).

A preview (:meth:`ContentOperations.preview`) returns counts, a sample of before → after and every
product the template cannot render (named, with the reason); its ``stamp`` packs the versions of the
products it would change. :meth:`ContentOperations.apply` takes the template and the target again with
that stamp: the products are rendered anew inside the write, and those changed since the preview are
left as they are and reported as conflicts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from backoffice.operations.base import Area, CancelCallback, ProgressCallback, ValidationError
from backoffice.operations.bulk import changes_of_rows, pack_versions, unpack_versions
from backoffice.operations.changes import PRODUCTS, SETTINGS, Changes
from backoffice.services import content as content_service
from backoffice.services import content_checks
from backoffice.services.bulk import Target
from backoffice.services.catalog_grid import VariantFilter
from backoffice.services.changesets import ApplyResult
from backoffice.services.content import FIELDS, TemplateInfo
from backoffice.services.content_checks import CHECKS, ContentRules, ProductCheck

__all__ = ["CHECKS", "FIELDS", "ApplyResult", "CheckInfo", "ContentCheckSummary", "ContentOperations",
           "ContentPreview", "ContentRules", "ProductCheck", "SampleRender", "Target", "TemplateInfo",
           "TEMPLATE_FIELDS", "VariantFilter"]

TEMPLATE_FIELDS = ("description", "seo_title", "seo_description")
ROW_LIMIT = 5_000          # the most product rows a check sends back (the report file has them all)


@dataclass(frozen=True)
class SampleRender:
    """One product's current value of the template's field and what the template makes of it."""

    handle: str
    before: str
    after: str


@dataclass(frozen=True)
class ContentPreview:
    """What applying a template to a target would do: ``considered`` products, ``affected`` that change,
    ``unchanged`` already as the template renders them; ``sample`` the first 50 changes (handle, before,
    after); ``invalid`` the products it cannot render (product, field, why; the first 500 of
    ``invalid_count``); ``stamp`` what :meth:`ContentOperations.apply` checks the rows against."""

    template_name: str
    target_field: str
    template_version: int
    considered: int
    affected: int
    unchanged: int
    sample: list[tuple[str, str, str]]
    invalid: list[tuple[str, str, str]]
    invalid_count: int
    stamp: str = ""


@dataclass(frozen=True)
class CheckInfo:
    key: str
    label: str
    weight: int
    explain: str
    failing: int          # products failing it


@dataclass(frozen=True)
class ContentCheckSummary:
    """The checks over a set of products: per check the products failing it, how many products need
    attention (score below ``rules.attention_below``), the average score, and the products worst score
    first (at most ``ROW_LIMIT``; ``total`` counts them all)."""

    rules: ContentRules
    checks: list[CheckInfo]
    total: int
    attention_count: int
    average_score: float
    rows: list[ProductCheck]


class ContentOperations(Area):
    # -- templates -------------------------------------------------------------------------------------
    def fields(self) -> dict[str, str]:
        """The fields a template may use, each with what it holds."""
        return dict(FIELDS)

    def templates(self) -> list[TemplateInfo]:
        return content_service.list_templates(self._db)

    def template(self, name: str) -> TemplateInfo:
        return content_service.get_template(self._db, name)

    def save_template(self, name: str, target_field: str, source: str, note: str = "",
                      expected_version: int | None = None, *, op_id: str | None = None) -> TemplateInfo:
        """Create or replace the template ``name`` (its source must compile)."""
        content_service.save_template(self._db, self._actor, name=name, target_field=target_field, source=source,
                                      note=note, expected_version=expected_version, operation_id=op_id)
        self.changed(Changes.of(SETTINGS))
        return content_service.get_template(self._db, name)

    def delete_template(self, name: str, *, op_id: str | None = None) -> None:
        content_service.delete_template(self._db, self._actor, name, operation_id=op_id)
        self.changed(Changes.of(SETTINGS))

    def render_sample(self, source: str, target_field: str, handle: str) -> SampleRender:
        """The template (saved or not) rendered for the product ``handle``: the editor's live preview."""
        before, after = content_service.render_sample(self._db, source, target_field, handle)
        return SampleRender(handle.strip(), before, after)

    def preview(self, template_name: str, target: Target, progress: ProgressCallback | None = None,
                cancel: CancelCallback | None = None) -> ContentPreview:
        """Every change the template would make on the target's products; nothing is written."""
        info = content_service.get_template(self._db, template_name)
        p = content_service.plan(self._db, template_name, target, progress=progress, cancel=cancel)
        stamp = pack_versions(p.versions) if p.changes else ""    # the rows it cannot render too: still refused
        return ContentPreview(p.template_name, p.target_field, info.version, p.considered, len(p.changes), p.unchanged,
                              p.sample, p.invalid[:500], len(p.invalid), stamp)

    def apply(self, template_name: str, target: Target, *, stamp: str = "", skip_invalid: bool = False,
              template_version: int | None = None, op_id: str | None = None) -> ApplyResult:
        """Apply the template to the target as one changeset (the same ``op_id`` twice writes once). With
        the preview's ``stamp`` only the products it showed are written; those changed since are
        ``conflicts``. Products it cannot render refuse it unless ``skip_invalid``."""
        previewed = unpack_versions(stamp) if stamp else None
        result = content_service.apply_template(self._db, self._actor, template_name, target, previewed=previewed,
                                                skip_invalid=skip_invalid, expected_template_version=template_version,
                                                operation_id=op_id)
        if result.changeset_id is not None:
            self.changed(changes_of_rows(result, PRODUCTS))
        return result

    # -- checks ------------------------------------------------------------------------------------------
    def settings(self) -> ContentRules:
        return content_checks.get_rules(self._db)

    def save_settings(self, thin_words: int, attention_below: int, expected_version: int | None = None, *,
                      op_id: str | None = None) -> ContentRules:
        """The store's thresholds: fewer words than ``thin_words`` make a description thin; a score
        below ``attention_below`` (0–100) puts a product under "Needs attention"."""
        rules = content_checks.save_rules(self._db, self._actor, thin_words=thin_words, attention_below=attention_below,
                                          expected_version=expected_version, operation_id=op_id)
        self.changed(Changes.of(SETTINGS, PRODUCTS))
        return rules

    def check(self, filter: VariantFilter | None = None, variant_ids: list[int] | None = None,  # noqa: A002
              limit: int = 500) -> ContentCheckSummary:
        """The checks of the products of ``filter`` (or of the selected variants; neither: all products)."""
        if not 0 <= limit <= ROW_LIMIT:
            raise ValidationError([("", "limit", f"must be from 0 to {ROW_LIMIT:,}")])
        report = content_checks.run_checks(self._db, filter, tuple(variant_ids or ()))
        checks = [CheckInfo(c.key, c.label, c.weight, c.explain, report.counts[c.key]) for c in CHECKS]
        worst = sorted(report.rows, key=lambda r: (r.score, r.handle))[:limit]
        average = round(sum(r.score for r in report.rows) / len(report.rows), 1) if report.rows else 100.0
        return ContentCheckSummary(report.rules, checks, len(report.rows), report.attention_count, average, worst)

    def export_report(self, path: str | os.PathLike[str], fmt: str | None = None, filter: VariantFilter | None = None,  # noqa: A002
                      variant_ids: list[int] | None = None) -> int:
        """Write the checks of every product of the set to ``path`` (xlsx or csv; by default from the
        extension), one row per product; returns the rows written."""
        fmt = (fmt or ("xlsx" if str(path).lower().endswith(".xlsx") else "csv")).lower()
        if fmt not in ("xlsx", "csv"):
            raise ValidationError([("", "format", f"{fmt!r} is not xlsx or csv")])
        report = content_checks.run_checks(self._db, filter, tuple(variant_ids or ()))
        return content_checks.write_report(report, Path(path), fmt)
