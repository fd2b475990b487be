"""The Customers view: who buys, what they bought, their details kept current, exported or erased."""

from backoffice.ui.views.customers.view import CustomersView

__all__ = ["CustomersView"]
