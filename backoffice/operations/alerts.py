"""The alerts area of the operations contract: low-stock thresholds and defaults, the open alerts with
their true counts, "check now", the e-mail digest, and the store's outgoing mail server.

The mail server's password is not part of the settings: it lives in the keyring of the machine that
sends (:func:`smtp_secret_key` names its entry), and the client hands it to :meth:`AlertOperations.send_digest`
and :meth:`AlertOperations.send_test_message`.
"""

from __future__ import annotations

from email.message import EmailMessage

from backoffice.operations.base import Area, ServiceError, ValidationError
from backoffice.operations.changes import ALERTS, SETTINGS, THRESHOLDS, Changes
from backoffice.services import alerts, job_runs, settings
from backoffice.services.alerts import (
    LIST_LIMIT,
    AlertOverview,
    AlertRow,
    DigestResult,
    Evaluation,
    MailError,
)
from backoffice.services.settings import SmtpSettings, smtp_secret_key

__all__ = ["LIST_LIMIT", "AlertOperations", "AlertOverview", "AlertRow", "DigestResult", "Evaluation",
           "MailError", "SmtpSettings", "smtp_secret_key"]


class AlertOperations(Area):
    # -- thresholds ----------------------------------------------------------------------------------------
    def set_threshold(self, variant_id: int, location_id: int, *, threshold: int | None,
                      reorder_point: int | None = None, op_id: str | None = None) -> None:
        """The low-stock threshold (None: the default rules apply) and reorder point of one variant at one
        warehouse or store."""
        alerts.set_threshold(self._db, self._actor, variant_id=variant_id, location_id=location_id,
                             threshold=threshold, reorder_point=reorder_point)
        self.changed(Changes.of(THRESHOLDS, variant=[variant_id], location=[location_id]))

    # -- alerts --------------------------------------------------------------------------------------------
    def overview(self, *, limit: int = LIST_LIMIT) -> AlertOverview:
        """The newest ``limit`` open alerts with the true open and not-mailed counts and the last check."""
        return alerts.overview(self._db, limit=limit)

    def open_count(self) -> int:
        """How many alerts are open: the true number."""
        return alerts.open_alert_count(self._db)

    def check_now(self, *, op_id: str | None = None) -> Evaluation:
        """Compare every level with its threshold: open an alert per new crossing, close the recovered."""
        result = alerts.evaluate(self._db)
        self.changed(Changes.of(ALERTS))
        return result

    def send_digest(self, password: str | None = None, *, op_id: str | None = None) -> DigestResult:
        """Mail the alerts not mailed yet through the saved mail server (``password``: its login's, from the
        sending machine's keyring), then mark them. ``sent`` 0: nothing new, no message. One send runs at a
        time: while another is under way this one sends nothing and raises JobBusy (recorded as skipped)."""
        with job_runs.exclusive(self._db, "stock-alerts", self._actor) as job:
            smtp = settings.get_smtp(self._db)
            if not smtp.configured:   # a scheduled run without a mail server is a failed run, on record
                raise ServiceError("no mail server is set: run `backoffice stock mail-settings --host …` first")
            result = alerts.send_digest(self._db, self._actor, smtp, password)
            job.done(f"mailed {result.sent:,} alert(s) to {', '.join(result.recipients)}" if result.sent
                     else "nothing new to mail")
        if result.sent:
            self.changed(Changes.of(ALERTS))
        return result

    # -- the mail server -------------------------------------------------------------------------------------
    def mail_settings(self) -> SmtpSettings:
        """The store's outgoing mail server (empty settings when none is set: ``configured`` False)."""
        return settings.get_smtp(self._db)

    def save_mail_settings(self, smtp: SmtpSettings, *, op_id: str | None = None) -> SmtpSettings:
        """Save the mail server; every problem is reported at once (ValidationError)."""
        saved = settings.save_smtp(self._db, self._actor, smtp, operation_id=op_id)
        self.changed(Changes.of(SETTINGS))
        return saved

    def send_test_message(self, smtp: SmtpSettings, password: str | None = None) -> tuple[str, ...]:
        """Send a short message to the recipients with these settings (saved or not); the recipients."""
        problems = smtp.problems()
        if not smtp.recipients:
            problems.append(("mail server", "recipients", "name at least one recipient"))
        if problems:
            raise ValidationError(problems)
        msg = EmailMessage()
        msg["Subject"] = "Backoffice: test message"
        msg["From"] = smtp.sender
        msg["To"] = ", ".join(smtp.recipients)
        msg.set_content("This is a test message from Backoffice. Low-stock digests will be sent the same way.\n")
        alerts.send_message(smtp, password, msg)
        return smtp.recipients
