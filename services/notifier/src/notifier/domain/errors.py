"""How sending can fail, as the service layer needs to tell the cases apart."""

from __future__ import annotations


class SendError(Exception):
    """Sending failed."""


class TransientSendError(SendError):
    """Down, slow, 4xx, or refusing the whole message: worth retrying later (then the DLQ)."""


class PermanentRecipientError(SendError):
    """The server refused the recipient for good (5xx on RCPT), or the address is unusable:
    retrying cannot help, so the notification is recorded failed and the fact acknowledged."""
