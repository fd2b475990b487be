"""The customers area of the contract: list and detail, audited edits, GDPR export and erasure."""

from __future__ import annotations

from typing import Any

from backoffice.operations.base import Area
from backoffice.operations.changes import CUSTOMERS, Changes
from backoffice.services import customers
from backoffice.services.customers import CustomerInfo, CustomerSummary

__all__ = ["CustomerInfo", "CustomerOperations", "CustomerSummary"]


class CustomerOperations(Area):
    def list(self, *, search: str = "", before_id: int | None = None, limit: int = 200,
             include_erased: bool = False) -> list[CustomerSummary]:
        """Customers newest first, a keyset page at a time."""
        return customers.list_customers(self._db, search=search, before_id=before_id, limit=limit,
                                        include_erased=include_erased)

    def count(self, *, search: str = "", include_erased: bool = False) -> int:
        return customers.count_customers(self._db, search=search, include_erased=include_erased)

    def get(self, customer_id: int) -> CustomerInfo:
        return customers.get_customer(self._db, customer_id)

    def update(self, customer_id: int, *, expected_version: int, values: dict[str, Any],
               op_id: str | None = None) -> CustomerInfo:
        """Change name, email, phone, address, note or country; a stale version is a ConflictError."""
        return self._write(lambda: customers.update_customer(self._db, self._actor, customer_id,
                                                             expected_version=expected_version, values=dict(values),
                                                             operation_id=op_id),
                           Changes.of(CUSTOMERS, customer=[customer_id]))

    def export(self, customer_id: int, path: str) -> str:
        """Everything held about the customer as a JSON file at ``path``; the path written."""
        return customers.export_customer(self._db, self._actor, customer_id, path)

    def erase(self, customer_id: int, *, op_id: str | None = None) -> CustomerInfo:
        """Anonymise the customer, keeping their orders' accounting."""
        return self._write(lambda: customers.erase_customer(self._db, self._actor, customer_id, operation_id=op_id),
                           Changes.of(CUSTOMERS, customer=[customer_id]))
