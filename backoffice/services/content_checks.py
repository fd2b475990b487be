"""SEO and content checks over the catalog, and a completeness score per product.

Each check is one SQL condition on a product row (lengths, word counts, duplicates and images come from
aggregates and uncorrelated subqueries the database runs once, never one query per product), so the
same expressions serve the report (one statement, one row per product) and the Products grid's "Needs
attention" filter (``attention_condition``): the count the grid shows is the count the report gives.

The score starts at 100 and loses each failing check's weight (``CHECKS``); a product needs attention
when its score is below the store's threshold (``content_settings.attention_below``, 80 by default: 100
means "any failing check"). A description is thin when it has fewer words than
``content_settings.thin_words`` (50 by default); words are runs of text between spaces, tabs or line
breaks (an HTML tag counts with the text it touches).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import ContentSettings, Product, ProductImage, Variant
from backoffice.services.base import Actor, ValidationError, audit, chunked_in
from backoffice.services.catalog_grid import VariantFilter, apply_filter
from backoffice.services.content_sql import (
    CHECK_BY_KEY,
    CHECKS,
    DEFAULT_ATTENTION_BELOW,
    DEFAULT_THIN_WORDS,
    META_MAX,
    META_MIN,
    SEO_TITLE_MAX,
    TITLE_MAX,
    TITLE_MIN,
    Check,
    attention_condition,
    check_conditions,
    score_expression,
    words_expression,
)

__all__ = ["CHECKS", "CHECK_BY_KEY", "META_MAX", "META_MIN", "SEO_TITLE_MAX", "TITLE_MAX", "TITLE_MIN", "Check",
           "ContentReport", "ContentRules", "ProductCheck", "attention_condition", "check_conditions", "get_rules",
           "product_ids_of", "run_checks", "save_rules", "score_expression", "write_report"]

@dataclass(frozen=True)
class ContentRules:
    """The store's thresholds (``content_settings``)."""

    thin_words: int = DEFAULT_THIN_WORDS
    attention_below: int = DEFAULT_ATTENTION_BELOW
    version: int = 0          # 0: never saved (the defaults)


@dataclass(frozen=True)
class ProductCheck:
    """One product's checks: ``failing`` the keys of the checks it fails, ``score`` 0–100."""

    product_id: int
    handle: str
    title: str
    vendor: str
    title_length: int
    meta_length: int
    words: int
    images: int
    images_without_alt: int
    score: int
    failing: tuple[str, ...]


# -- the rules ------------------------------------------------------------------------------------------
def get_rules(db: Database) -> ContentRules:
    with db.read() as session:
        return _rules(session)


def _rules(session: Session) -> ContentRules:
    row = session.execute(select(ContentSettings.thin_words, ContentSettings.attention_below, ContentSettings.version)
                          .order_by(ContentSettings.id).limit(1)).first()
    return ContentRules() if row is None else ContentRules(int(row[0]), int(row[1]), int(row[2]))


def save_rules(db: Database, actor: Actor, *, thin_words: int, attention_below: int, expected_version: int | None = None,
               operation_id: str | None = None) -> ContentRules:
    """Save the thresholds (version-checked when ``expected_version`` is given: 0 for "never saved")."""
    problems = []
    if not isinstance(thin_words, int) or not 0 <= thin_words <= 10_000:
        problems.append(("content settings", "thin_words", f"{thin_words!r} is not a number of words from 0 to 10,000"))
    if not isinstance(attention_below, int) or not 0 <= attention_below <= 100:
        problems.append(("content settings", "attention_below", f"{attention_below!r} is not a score from 0 to 100"))
    if problems:
        raise ValidationError(problems)
    from backoffice.services.base import ConflictError, claim_operation, store_operation_result

    def write(session: Session) -> ContentRules:
        if claim_operation(session, operation_id, "save_content_settings", actor) is not None:
            return _rules(session)
        row = session.scalars(select(ContentSettings).order_by(ContentSettings.id).limit(1).with_for_update()).first()
        current = row.version if row is not None else 0
        if expected_version is not None and expected_version != current:
            raise ConflictError("content_settings", row.id if row else 0, "content settings", expected_version, current)
        before = None if row is None else {"thin_words": row.thin_words, "attention_below": row.attention_below}
        if row is None:
            row = ContentSettings(thin_words=thin_words, attention_below=attention_below)
            session.add(row)
        else:
            row.thin_words, row.attention_below = thin_words, attention_below
        session.flush()
        audit(session, actor, "content_settings", row.id, "create" if before is None else "update", before,
              {"thin_words": thin_words, "attention_below": attention_below}, operation_id)
        store_operation_result(session, operation_id, {"version": row.version})
        return ContentRules(row.thin_words, row.attention_below, row.version)

    return db.run_write(write)


# -- the report -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContentReport:
    """The checks of every product of a set: ``counts`` per check key, ``rows`` in product id order."""

    rules: ContentRules
    rows: list[ProductCheck]
    counts: dict[str, int]

    def needs_attention(self, row: ProductCheck) -> bool:
        return row.score < self.rules.attention_below

    @property
    def attention_count(self) -> int:
        return sum(1 for r in self.rows if self.needs_attention(r))


def product_ids_of(session: Session, flt: VariantFilter | None, variant_ids: tuple[int, ...] = ()) -> list[int]:
    """The products a filter or a selection of variants names; no filter and no selection: every product
    (those without variants too)."""
    if variant_ids:
        out: set[int] = set()
        for cond in chunked_in(session, Variant.id, sorted(set(variant_ids))):
            out.update(session.scalars(select(Variant.product_id).where(cond)))
        return sorted(out)
    if flt is None or flt == VariantFilter():
        return list(session.scalars(select(Product.id).order_by(Product.id)))
    stmt = apply_filter(select(Variant.product_id).join(Product, Product.id == Variant.product_id), flt)
    return list(session.scalars(select(Product.id).where(Product.id.in_(stmt)).order_by(Product.id)))


def run_checks(db: Database, flt: VariantFilter | None = None, variant_ids: tuple[int, ...] = ()) -> ContentReport:
    """Every check of every product of the filter (or selection), one statement over the products.

    The statement returns the measures (lengths, words, images) and the flags of the checks that need
    the whole catalog (duplicates); the checks that follow from the measures, and the score, are worked
    out here from the same definitions as ``content_sql`` (held equal to the grid's SQL by the tests), so
    the costly word count runs once per product."""
    with db.read() as session:
        rules = _rules(session)
        conditions = check_conditions(rules.thin_words)
        images = (select(func.count()).where(ProductImage.product_id == Product.id).scalar_subquery())
        no_alt = (select(func.count()).where(ProductImage.product_id == Product.id,
                                             func.trim(ProductImage.alt_text) == "").scalar_subquery())
        in_sql = [c.key for c in CHECKS if c.key not in _FROM_MEASURES]
        columns = [Product.id, Product.handle, Product.title, Product.vendor, func.length(func.trim(Product.title)),
                   func.length(func.trim(Product.seo_description)), words_expression(Product.description), images,
                   no_alt, *[case((conditions[key], 1), else_=0) for key in in_sql]]
        stmt = select(*columns).order_by(Product.id)
        everything = not variant_ids and (flt is None or flt == VariantFilter())
        rows: list[ProductCheck] = []
        if everything:
            batches = [session.execute(stmt)]
        else:
            ids = product_ids_of(session, flt, variant_ids)
            batches = [session.execute(stmt.where(cond)) for cond in chunked_in(session, Product.id, ids)]
        for result in batches:
            for pid, handle, title, vendor, tl, ml, words, n_images, n_no_alt, *flags in result:
                words, n_images, n_no_alt = int(words or 0), int(n_images or 0), int(n_no_alt or 0)
                failed = {key for key, flag in zip(in_sql, flags, strict=True) if flag}
                if n_images == 0:
                    failed.add("no_images")
                if n_no_alt:
                    failed.add("missing_alt_text")
                if "empty_description" not in failed and words < rules.thin_words:
                    failed.add("thin_description")
                failing = tuple(c.key for c in CHECKS if c.key in failed)
                rows.append(ProductCheck(pid, handle, title, vendor or "", int(tl or 0), int(ml or 0), words,
                                         n_images, n_no_alt, 100 - sum(CHECK_BY_KEY[k].weight for k in failing),
                                         failing))
    counts = {c.key: 0 for c in CHECKS}
    for r in rows:
        for key in r.failing:
            counts[key] += 1
    return ContentReport(rules, rows, counts)


_FROM_MEASURES = frozenset({"no_images", "missing_alt_text", "thin_description"})


def write_report(report: ContentReport, path: Any, fmt: str) -> int:  # noqa: ANN401
    """The report as an XLSX or CSV file, one row per product; returns the rows written."""
    header = (["Handle", "Title", "Vendor", "Score", "Needs attention", "Failing checks", "Title length",
               "Meta description length", "Description words", "Images", "Images without alt text"]
              + [c.label for c in CHECKS])

    def line(r: ProductCheck) -> list[Any]:
        return ([r.handle, r.title, r.vendor, r.score, "yes" if report.needs_attention(r) else "no",
                 ", ".join(CHECK_BY_KEY[k].label for k in r.failing), r.title_length, r.meta_length, r.words,
                 r.images, r.images_without_alt] + ["fail" if c.key in r.failing else "ok" for c in CHECKS])

    if fmt == "xlsx":
        import xlsxwriter

        book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False,
                                               "strings_to_urls": False})
        try:
            sheet = book.add_worksheet("Content checks")
            bold = book.add_format({"bold": True})
            sheet.write_row(0, 0, header, bold)
            sheet.freeze_panes(1, 0)
            sheet.set_column(0, 1, 32)
            for i, r in enumerate(report.rows, start=1):
                sheet.write_row(i, 0, line(r))
            summary = book.add_worksheet("Summary")
            summary.write_row(0, 0, ["Check", "Products failing", "Weight", "What fails it"], bold)
            for i, c in enumerate(CHECKS, start=1):
                summary.write_row(i, 0, [c.label, report.counts[c.key], c.weight, c.explain])
            summary.write_row(len(CHECKS) + 1, 0, ["Needs attention", report.attention_count,
                                                   f"score below {report.rules.attention_below}", ""])
        finally:
            book.close()
    elif fmt == "csv":
        import csv

        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for r in report.rows:
                writer.writerow([_csv_safe(v) for v in line(r)])
    else:
        raise ValidationError([("", "format", f"{fmt!r} is not xlsx or csv")])
    return len(report.rows)


def _csv_safe(value: Any) -> Any:  # noqa: ANN401
    """A text a spreadsheet would run as a formula gets a leading apostrophe (titles are merchants' text)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
