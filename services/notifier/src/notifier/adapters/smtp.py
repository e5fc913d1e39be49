"""Sending over SMTP with aiosmtplib: TLS and auth as configured, every step bounded in time."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from notifier.domain.errors import PermanentRecipientError, TransientSendError
from notifier.domain.model import RenderedEmail
from notifier.settings import NotifierSettings


def build_message(rendered: RenderedEmail, mail_from: str) -> EmailMessage:
    """The MIME message: text/plain with a text/html alternative and the fact's Message-ID."""
    email = rendered.email
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = email.recipient
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = rendered.message_id
    # Transactional mail: no auto-replies back to us (RFC 3834), and a handle for support.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Notifier-Event-Id"] = str(email.event_id)
    message["X-Notifier-Template"] = email.template
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def classify(exc: BaseException) -> TransientSendError | PermanentRecipientError:
    """Sort an SMTP failure: only a 5xx refusal of the recipient is permanent.

    A server refusing the sender or the data, with any code, is a server-wide problem (relay
    policy, our configuration, an outage) that a later retry or a replay from the DLQ can fix.
    """
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        if codes and all(500 <= code < 600 for code in codes):
            return PermanentRecipientError(f"recipient refused: {detail}")
        return TransientSendError(f"recipient deferred: {detail}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return TransientSendError(f"{type(exc).__name__}: {exc.code} {exc.message}")
    if isinstance(exc, TimeoutError):
        return TransientSendError(f"SMTP timed out: {type(exc).__name__} {exc}")
    return TransientSendError(f"SMTP unavailable: {type(exc).__name__}: {exc}")


class SmtpSender:
    """Sends one rendered e-mail per call on a fresh connection (low volume: simple and robust)."""

    def __init__(self, settings: NotifierSettings) -> None:
        self._settings = settings

    async def send(self, rendered: RenderedEmail) -> None:
        """Send, or raise TransientSendError / PermanentRecipientError."""
        s = self._settings
        message = build_message(rendered, s.mail_from)
        try:
            async with asyncio.timeout(s.smtp_send_timeout_s):
                await aiosmtplib.send(
                    message,
                    hostname=s.smtp_host,
                    port=s.smtp_port,
                    username=s.smtp_username,
                    password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                    use_tls=s.smtp_security == "tls",
                    start_tls=s.smtp_security == "starttls",
                    validate_certs=s.smtp_validate_certs,
                    timeout=s.smtp_timeout_s,
                )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise classify(exc) from exc
