"""The errors of talking to a store API server, besides the contract's own (which cross the wire as
problem details and are raised again as the same types)."""

from __future__ import annotations

from backoffice.operations import ServiceError


class ServerUnreachable(ServiceError):
    """The server did not answer (connection refused, reset or timed out) even after the retries: the
    request may or may not have been applied; sending it again with the same Idempotency-Key is safe."""


class SignInExpired(ServiceError):
    """The refresh token is no longer live (expired, used or revoked): the person must sign in again."""


class RemoteCancelled(ServiceError):
    """A job on the server was cancelled at the caller's request."""


class QueuedOffline(ServiceError):
    """The write is kept in the outbox (the server is unreachable) and goes when the server is back:
    not a failure, nothing is lost; the pending count says how many wait."""
