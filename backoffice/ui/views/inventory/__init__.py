"""The Inventory view: stock per variant and location, history, adjustments, counts and low-stock alerts."""

from backoffice.ui.views.inventory.view import InventoryView

__all__ = ["InventoryView"]
