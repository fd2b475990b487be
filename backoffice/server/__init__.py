"""The store API server (``backoffice serve``): FastAPI over the operations contract.

Like the GUI and the command line, the server reaches the data only through ``backoffice.operations``.
:func:`create_app` builds the application from how to open the operations; :mod:`.middleware` adds the
request id, the one log line per request and the body cap; :mod:`.problems` turns every error into an
RFC 9457 ``application/problem+json`` body; :mod:`.v1` is the router of the versioned resources.
"""

from backoffice.server.app import API_VERSION, StoreAccess, create_app, create_app_for_url, openapi_text

__all__ = ["API_VERSION", "StoreAccess", "create_app", "create_app_for_url", "openapi_text"]
