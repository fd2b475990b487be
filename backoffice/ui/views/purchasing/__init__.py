"""The Purchasing view: replenishment suggestions, purchase orders and suppliers."""

from backoffice.ui.views.purchasing.view import PurchasingView

__all__ = ["PurchasingView"]
