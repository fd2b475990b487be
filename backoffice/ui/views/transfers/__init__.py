"""The Transfers view: stock moves between warehouses and stores, scanned, shipped and received."""

from backoffice.ui.views.transfers.view import TransfersView

__all__ = ["TransfersView"]
