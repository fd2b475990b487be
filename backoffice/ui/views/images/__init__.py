"""The Images view: product galleries, bulk upload with matching review, alt text, variants, the editor."""

from backoffice.ui.views.images.view import ImagesView

__all__ = ["ImagesView"]
