"""The Bundles view: fixed bundles with their components, pricing, margin and availability; mix-and-match rules."""

from backoffice.ui.views.bundles.view import BundlesView

__all__ = ["BundlesView"]
