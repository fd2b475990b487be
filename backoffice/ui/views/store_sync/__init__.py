"""The Store sync view: the connected online store, its sync runs, direction rules and API health."""

from backoffice.ui.views.store_sync.view import StoreSyncView

__all__ = ["StoreSyncView"]
