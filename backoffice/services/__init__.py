"""The one write path. Plain Python, no Qt: the GUI, the CLI and the HTTP server all call these.

Each write takes the acting user, validates, runs in one transaction, audits, and returns what changed.
Modules: ``base`` (actor, errors, audit, idempotency), ``users``, ``catalog``, ``inventory``, ``audit``.
"""
