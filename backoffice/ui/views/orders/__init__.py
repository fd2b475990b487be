"""The Orders view: orders reserved, shipped by scanning, cancelled and taken back (returns)."""

from backoffice.ui.views.orders.view import OrdersView

__all__ = ["OrdersView"]
