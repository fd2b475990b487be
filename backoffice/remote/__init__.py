"""The operations contract over HTTP: a client of the store API (``backoffice serve``) for API profiles.

:class:`~backoffice.remote.operations.RemoteOperations` has the same areas and methods as
:class:`~backoffice.operations.LocalOperations`; each call goes to ``POST /v1/operations/{area.method}``
(values in and out in the contract's JSON form), with keep-alive, timeouts, a silent token refresh and
retries under one Idempotency-Key. The grid's and stock views' reads come from the local replica
(:mod:`backoffice.sync`), writes that can wait go through its outbox.
"""
