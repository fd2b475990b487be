"""The Purchasing view (planned): Suppliers, reorder suggestions and purchase orders."""

from backoffice.ui.views.purchasing.view import PurchasingView

__all__ = ["PurchasingView"]
