"""The idempotency area of the contract: a server remembers requests sent with an Idempotency-Key, so a
replay gets the first answer and the write under the key applies once (its operation id derives from
the key). Keys belong to the acting user."""

from __future__ import annotations

from backoffice.operations.base import Area
from backoffice.services import api_requests
from backoffice.services.api_requests import Claim, operation_id_for, request_hash

__all__ = ["Claim", "IdempotencyOperations", "request_hash"]


class IdempotencyOperations(Area):
    def begin(self, key: str, route: str, fingerprint: str) -> Claim:
        """Claim ``key`` for this request (``fingerprint``: :func:`request_hash` of route and body)."""
        return api_requests.begin(self._db, self._actor, key, route, fingerprint)

    def finish(self, key: str, status: int, body: str, media_type: str,
               headers: dict[str, str] | None = None) -> None:
        """Store the answer a replay of ``key`` gets (with the headers that describe it: ETag, Location)."""
        api_requests.finish(self._db, self._actor, key, status, body, media_type, headers)

    def forget(self, key: str) -> None:
        """Drop the unanswered claim of ``key`` (the request failed in a way a retry should run again)."""
        api_requests.forget(self._db, self._actor, key)

    def operation_id(self, key: str) -> str:
        """The operation id under which the keyed request writes."""
        return operation_id_for(self._actor, key)
