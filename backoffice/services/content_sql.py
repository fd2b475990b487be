"""The content checks as SQL: each check one condition on a products row, the score, and the condition
the Products grid's "Needs attention" filter adds (see ``content_checks`` for the checks' meaning). Kept
apart from the report so the grid's filter (``catalog_grid``) can use it without importing the report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select

from backoffice.models import ContentSettings, Product, ProductImage, Variant

TITLE_MIN, TITLE_MAX = 10, 70          # characters of a product title
SEO_TITLE_MAX = 60                     # characters of the SEO title (the title when it has none)
META_MIN, META_MAX = 50, 160           # characters of the meta (SEO) description
DEFAULT_THIN_WORDS = 50
DEFAULT_ATTENTION_BELOW = 80


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    weight: int          # points of the score this check takes away when it fails
    explain: str


CHECKS: tuple[Check, ...] = (
    Check("title_length", "Title length", 10, f"the title is shorter than {TITLE_MIN} or longer than {TITLE_MAX} characters"),
    Check("seo_title_length", "SEO title length", 5, f"the SEO title (or the title, without one) is over {SEO_TITLE_MAX} characters"),
    Check("meta_description", "Meta description", 10, f"the SEO description is empty, under {META_MIN} or over {META_MAX} characters"),
    Check("duplicate_title", "Duplicate title", 10, "another product has the same title (ignoring case and outer spaces)"),
    Check("duplicate_description", "Duplicate description", 5, "another product has the same description"),
    Check("duplicate_handle", "Duplicate handle", 5, "another product's handle differs only in case or outer spaces"),
    Check("no_images", "No images", 15, "the product has no image"),
    Check("missing_alt_text", "Missing alt text", 5, "an image of the product has no alt text"),
    Check("empty_description", "Empty description", 15, "the description is empty or blank"),
    Check("thin_description", "Thin description", 10, "the description has fewer words than the store's minimum"),
    Check("missing_category", "No category", 5, "the product is in no category"),
    Check("missing_vendor", "No vendor", 5, "the product has no vendor"),
)
CHECK_BY_KEY = {c.key: c for c in CHECKS}
assert sum(c.weight for c in CHECKS) == 100


# -- the checks as SQL ------------------------------------------------------------------------------------
def _setting(column: Any, default: int) -> ColumnElement:
    """The stored threshold, read by the statement itself (once: an uncorrelated subquery)."""
    return func.coalesce(select(column).order_by(ContentSettings.id).limit(1).scalar_subquery(), default)


def _key(column: Any) -> ColumnElement:
    return func.lower(func.trim(column))


BLANKS = " \t\r\n"


def words_expression(column: Any) -> ColumnElement:
    """Runs of text between spaces, tabs and line breaks, counted in SQL (the same on both engines).

    A text without tabs, line breaks or double spaces (most are) is counted with one pass; only the others
    have their separators made single spaces first (runs of up to 64 become one)."""
    trimmed = func.trim(column, BLANKS)
    messy = or_(column.like("%  %"), column.like("%\n%"), column.like("%\t%"), column.like("%\r%"))
    text = func.replace(func.replace(func.replace(column, "\n", " "), "\r", " "), "\t", " ")
    for _ in range(6):
        text = func.replace(text, "  ", " ")
    text = func.trim(text)
    return case((trimmed == "", 0),
                (~messy, func.length(trimmed) - func.length(func.replace(trimmed, " ", "")) + 1),
                else_=func.length(text) - func.length(func.replace(text, " ", "")) + 1)


def _duplicates(column: Any) -> Any:
    return (select(_key(column)).where(_key(column) != "").group_by(_key(column))
            .having(func.count() > 1))


def check_conditions(thin_words: Any = None) -> dict[str, ColumnElement]:
    """Each check's failing condition on a products row (``thin_words``: a number, or by default the
    stored setting, read in SQL)."""
    thin = _setting(ContentSettings.thin_words, DEFAULT_THIN_WORDS) if thin_words is None else literal(int(thin_words))
    title_length = func.length(func.trim(Product.title))
    seo_title = case((func.trim(Product.seo_title) != "", func.trim(Product.seo_title)), else_=func.trim(Product.title))
    meta_length = func.length(func.trim(Product.seo_description))
    with_images = select(ProductImage.product_id)
    without_alt = select(ProductImage.product_id).where(func.trim(ProductImage.alt_text) == "")
    description = func.trim(Product.description, BLANKS)     # a description of line breaks only is empty
    return {
        "title_length": or_(title_length < TITLE_MIN, title_length > TITLE_MAX),
        "seo_title_length": func.length(seo_title) > SEO_TITLE_MAX,
        "meta_description": or_(meta_length < META_MIN, meta_length > META_MAX),
        "duplicate_title": _key(Product.title).in_(_duplicates(Product.title)),
        "duplicate_description": _key(Product.description).in_(_duplicates(Product.description)),
        "duplicate_handle": _key(Product.handle).in_(_duplicates(Product.handle)),
        "no_images": Product.id.not_in(with_images),
        "missing_alt_text": Product.id.in_(without_alt),
        "empty_description": description == "",
        "thin_description": and_(description != "", words_expression(Product.description) < thin),
        "missing_category": Product.category_id.is_(None),
        "missing_vendor": func.trim(Product.vendor) == "",
    }


def score_expression(conditions: dict[str, ColumnElement]) -> ColumnElement:
    return 100 - sum((case((conditions[c.key], c.weight), else_=0) for c in CHECKS), literal(0))


def attention_condition() -> ColumnElement:
    """True for grid rows (variants joined to products) whose product needs attention: its score is
    below the store's threshold. One uncorrelated subquery over products, run once per statement."""
    below = _setting(ContentSettings.attention_below, DEFAULT_ATTENTION_BELOW)
    conditions = check_conditions()
    # the word count is the costly check: it is counted only where it can decide (CASE stops early)
    costly = "thin_description"
    lost = sum((case((conditions[c.key], c.weight), else_=0) for c in CHECKS if c.key != costly), literal(0))
    weight = CHECK_BY_KEY[costly].weight
    needs = case((100 - lost < below, True),
                 (100 - lost - weight >= below, False),
                 else_=conditions[costly])
    return Variant.product_id.in_(select(Product.id).where(needs))


