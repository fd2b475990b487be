"""The Products view (planned): Bulk editing of the whole catalog."""

from backoffice.ui.views.products.view import ProductsView

__all__ = ["ProductsView"]
