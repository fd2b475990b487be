"""The classifier area of the operations contract: category and tag suggestions learnt from the store's own
categorised products (see ``backoffice/services/classifier.py``).

:meth:`ClassifierOperations.evaluate` measures the model on a held-out part of the catalog;
:meth:`~ClassifierOperations.suggest` suggests categories and tags for the products of a target (the
uncategorised ones, a selection, the grid's filter), each with its confidence, and refuses below the
threshold; :meth:`~ClassifierOperations.apply` writes the suggestions a person accepted as one revertible
changeset. The model learnt is kept in memory for as long as the catalog does not change (one per
operations object, so the store API server keeps its own for every client).
"""

from __future__ import annotations

from dataclasses import dataclass

from backoffice.db import Database
from backoffice.operations.base import Actor, Area, CancelCallback, ProgressCallback
from backoffice.operations.bulk import changes_of_rows
from backoffice.operations.changes import PRODUCTS
from backoffice.services import classifier as service
from backoffice.services.catalog_grid import VariantFilter
from backoffice.services.changesets import ApplyResult, Conflict
from backoffice.services.classifier import (
    DEFAULT_HOLDOUT,
    DEFAULT_MIN_CONFIDENCE,
    Accepted,
    Cancelled,
    Evaluation,
    Suggestion,
    SuggestionRun,
    SuggestTarget,
)

__all__ = ["DEFAULT_HOLDOUT", "DEFAULT_MIN_CONFIDENCE", "Accepted", "ApplyResult", "Cancelled", "Capabilities",
           "ClassifierOperations", "Conflict", "Evaluation", "Suggestion", "SuggestionRun", "SuggestTarget",
           "VariantFilter"]


@dataclass(frozen=True)
class Capabilities:
    """What the side that trains (this process, or the store API server) can do: ``suggestions`` needs
    scikit-learn; ``embeddings`` the optional sentence-embedding package. ``message`` says what is
    missing and how to get it ("" when nothing is)."""

    suggestions: bool
    embeddings: bool
    message: str = ""


class ClassifierOperations(Area):
    def __init__(self, db: Database, actor: Actor | object) -> None:
        super().__init__(db, actor)  # type: ignore[arg-type]
        self._models: service.ModelCache = {}

    def capabilities(self) -> Capabilities:
        """Whether suggestions (and sentence embeddings) can be made here, and if not, why."""
        suggestions = service.sklearn_available()
        embeddings = suggestions and service.embeddings_available()
        message = "" if embeddings else service.SKLEARN_MISSING if not suggestions else service.EMBEDDINGS_MISSING
        return Capabilities(suggestions, embeddings, message)

    def evaluate(self, *, holdout: float = DEFAULT_HOLDOUT, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                 embeddings: bool = False, progress: ProgressCallback | None = None,
                 cancel: CancelCallback | None = None) -> list[Evaluation]:
        """The model trained on part of the categorised catalog and scored on the ``holdout`` share it never
        saw (stratified, the same split every time): TF-IDF, and with ``embeddings`` the sentence
        embeddings too, on the same split."""
        methods = ("tfidf", "embeddings") if embeddings else ("tfidf",)
        return service.evaluate(self._db, holdout=holdout, min_confidence=min_confidence, methods=methods,
                                progress=progress, cancel=cancel)

    def suggest(self, target: SuggestTarget | None = None, *, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                embeddings: bool = False, limit: int = 10_000, holdout: float | None = None,
                progress: ProgressCallback | None = None, cancel: CancelCallback | None = None) -> SuggestionRun:
        """Category and tag suggestions for the products of ``target`` (default: those without a category),
        none below ``min_confidence``; with ``holdout``, the held-out evaluation of the model too. Nothing
        is written."""
        return service.suggest(self._db, target or SuggestTarget(), min_confidence=min_confidence,
                               method="embeddings" if embeddings else "tfidf", limit=limit, holdout=holdout,
                               cache=self._models, progress=progress, cancel=cancel)

    def apply(self, accepted: list[Accepted], *, description: str = "", op_id: str | None = None) -> ApplyResult:
        """The accepted suggestions as one revertible changeset (the same ``op_id`` twice writes once);
        products changed since their suggestion are left as they are (``conflicts``)."""
        result = service.apply_accepted(self._db, self._actor, accepted, description=description, operation_id=op_id)
        if result.changeset_id is not None:
            self.changed(changes_of_rows(result, PRODUCTS))
        return result
