"""The Variants view: attributes and values, templates, the combination generator, surcharge pricing,
bulk variant operations and the price/stock matrix of a product."""

from backoffice.ui.views.variants.view import VariantsView

__all__ = ["VariantsView"]
