"""The Products view: the grid over every variant of the catalog, with its edits, filters and dialogs."""

from backoffice.ui.views.products.view import ProductsView

__all__ = ["ProductsView"]
