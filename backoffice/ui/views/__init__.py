"""One package per view. This module lists them, in navigation order, grouped in sidebar sections."""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP

from backoffice.ui.views.audit import AuditView
from backoffice.ui.views.base import PlaceholderPage, ViewPage
from backoffice.ui.views.bundles import BundlesView
from backoffice.ui.views.customers import CustomersView
from backoffice.ui.views.images import ImagesView
from backoffice.ui.views.inventory import InventoryView
from backoffice.ui.views.orders import OrdersView
from backoffice.ui.views.products import ProductsView
from backoffice.ui.views.purchasing import PurchasingView
from backoffice.ui.views.reports import ReportsView
from backoffice.ui.views.store_sync import StoreSyncView
from backoffice.ui.views.transfers import TransfersView
from backoffice.ui.views.variants import VariantsView

# (section title marked for translation in the "Views" context, view classes)
SECTIONS: tuple[tuple[str, tuple[type[ViewPage], ...]], ...] = (
    (QT_TRANSLATE_NOOP("Views", "Catalog"), (ProductsView, VariantsView, ImagesView, BundlesView)),
    (QT_TRANSLATE_NOOP("Views", "Stock"), (InventoryView, TransfersView, PurchasingView)),
    (QT_TRANSLATE_NOOP("Views", "Sales"), (OrdersView, CustomersView)),
    (QT_TRANSLATE_NOOP("Views", "Insights"), (ReportsView, AuditView)),
    (QT_TRANSLATE_NOOP("Views", "Store"), (StoreSyncView,)),
)

VIEW_CLASSES: tuple[type[ViewPage], ...] = tuple(cls for _, classes in SECTIONS for cls in classes)
VIEW_KEYS: tuple[str, ...] = tuple(cls.key for cls in VIEW_CLASSES)
DEFAULT_VIEW = VIEW_KEYS[0]

__all__ = ["DEFAULT_VIEW", "SECTIONS", "VIEW_CLASSES", "VIEW_KEYS", "PlaceholderPage", "ViewPage"]
