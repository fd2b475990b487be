"""Backoffice: a desktop back-office for e-commerce merchants."""

__version__ = "0.1.0"
