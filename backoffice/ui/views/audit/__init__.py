"""The Audit view: the audit trail, lazily loaded in keyset pages, filtered, with a before/after diff."""

from backoffice.ui.views.audit.view import AuditView

__all__ = ["AuditView"]
