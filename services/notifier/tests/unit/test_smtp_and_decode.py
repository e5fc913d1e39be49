"""Sorting SMTP failures, building the MIME message, and decoding facts: no I/O."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import aiosmtplib
import pytest

from backbone.kafka.message import Message
from backbone.kafka.retry import PermanentError
from contracts.topics import NOTIFIER_GROUP, RESERVATION_EVENTS, retry_topic
from notifier.adapters.smtp import build_message, classify
from notifier.domain.errors import PermanentRecipientError, TransientSendError
from notifier.domain.model import Email, RenderedEmail
from notifier.service_layer.handlers import decode
from notifier.settings import NotifierSettings

EXAMPLE = Path(__file__).parents[4] / "libs/contracts/examples/reservation.events"


def _refused(*codes: int) -> aiosmtplib.SMTPRecipientsRefused:
    return aiosmtplib.SMTPRecipientsRefused(
        [
            aiosmtplib.SMTPRecipientRefused(code, "no", f"r{i}@x.test")
            for i, code in enumerate(codes)
        ]
    )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (_refused(550), PermanentRecipientError),
        (_refused(553, 550), PermanentRecipientError),
        (_refused(450), TransientSendError),
        (aiosmtplib.SMTPSenderRefused(550, "no relay", "from@x.test"), TransientSendError),
        (aiosmtplib.SMTPDataError(554, "refused"), TransientSendError),
        (aiosmtplib.SMTPConnectError("refused"), TransientSendError),
        (aiosmtplib.SMTPReadTimeoutError("slow"), TransientSendError),
        (ConnectionRefusedError(111, "refused"), TransientSendError),
        (TimeoutError(), TransientSendError),
    ],
)
def test_only_a_5xx_recipient_refusal_is_permanent(error: Exception, kind: type) -> None:
    assert type(classify(error)) is kind


def test_message_has_both_parts_and_the_stable_message_id() -> None:
    email = Email(uuid4(), "t", "reservation_confirmed", "ada@example.com", "Hi")
    rendered = RenderedEmail(email, "<x@d>", "plain", "<p>html</p>")
    message = build_message(rendered, NotifierSettings().mail_from)
    assert message["Message-ID"] == "<x@d>"
    assert message["To"] == "ada@example.com"
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content().strip() == "plain"
    assert html.get_content().strip() == "<p>html</p>"


def _message(value: bytes | None) -> Message:
    return Message(topic="t", partition=0, offset=0, key=None, value=value)


def test_decode() -> None:
    fact = decode(_message((EXAMPLE / "reservation_confirmed.json").read_bytes()))
    assert fact is not None
    assert fact.event_type == "reservation.confirmed.v1"
    assert decode(_message(b'{"event_type": "reservation.moved.v7"}')) is None
    for bad in (None, b"not json", b'{"event_type": "reservation.confirmed.v1"}'):
        with pytest.raises(PermanentError):
            decode(_message(bad))


def test_default_settings_read_the_registry_names() -> None:
    settings = NotifierSettings()
    assert settings.consumer_group == NOTIFIER_GROUP
    assert settings.http_port == 8003
    assert settings.topics == [RESERVATION_EVENTS, retry_topic(NOTIFIER_GROUP)]
