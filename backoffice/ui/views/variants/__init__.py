"""The Variants view (planned): Attributes, combinations and variant pricing."""

from backoffice.ui.views.variants.view import VariantsView

__all__ = ["VariantsView"]
