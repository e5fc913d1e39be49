"""How sending can fail, as the service layer needs to tell the cases apart.

Three answers, three fates: an outage is waited out (the consumer never dead-letters it), a
refusal for good is recorded `failed` and counted (never retried), and our own configuration
being wrong is retried a few times and then dead-lettered, to be replayed once it is fixed.
"""

from __future__ import annotations


class SendError(Exception):
    """Sending failed because our side is misconfigured (credentials refused, TLS or AUTH not
    offered): a few retries, then the dead-letter topic; replayed once the setting is fixed."""


class TransientSendError(SendError):
    """The server is down, slow, disconnected or answered 4xx: wait it out (never the DLQ).

    Registered as a transient failure of `smtp` with backbone (notifier.adapters.smtp)."""


class PermanentSendError(SendError):
    """The server refused this message for good (a 5xx to MAIL, RCPT or DATA): retrying cannot
    help, so the notification is recorded failed, counted, and the fact acknowledged."""


class PermanentRecipientError(PermanentSendError):
    """The server refused the recipient for good (5xx on RCPT), or the address is unusable."""
