"""The Images view (planned): Product image gallery, uploads and optimisation."""

from backoffice.ui.views.images.view import ImagesView

__all__ = ["ImagesView"]
