"""Sorting SMTP failures, building the MIME message, and decoding facts: no I/O."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from uuid import uuid4

import aiosmtplib
import pytest

from backbone.kafka import Message, PermanentError
from backbone.kafka import classify as classify_failure
from contracts.topics import NOTIFIER_GROUP, RESERVATION_EVENTS, retry_topic
from notifier.adapters.records import decode
from notifier.adapters.smtp import (
    _PLAIN_ADDRESS,
    _address_header,
    _parsed_address_header,
    classify,
    message_bytes,
)
from notifier.domain.errors import (
    PermanentRecipientError,
    PermanentSendError,
    SendError,
    TransientSendError,
)
from notifier.domain.model import Email, RenderedEmail
from notifier.settings import Settings

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
        (aiosmtplib.SMTPSenderRefused(550, "no relay", "from@x.test"), PermanentSendError),
        (aiosmtplib.SMTPDataError(554, "refused"), PermanentSendError),
        (aiosmtplib.SMTPSenderRefused(451, "try later", "from@x.test"), TransientSendError),
        (aiosmtplib.SMTPDataError(452, "full"), TransientSendError),
        (aiosmtplib.SMTPResponseException(421, "closing"), TransientSendError),
        (aiosmtplib.SMTPServerDisconnected("gone"), TransientSendError),
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), SendError),
        (aiosmtplib.SMTPNotSupported("STARTTLS extension not supported"), SendError),
        (aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported"), PermanentRecipientError),
        (aiosmtplib.SMTPConnectError("refused"), TransientSendError),
        (aiosmtplib.SMTPReadTimeoutError("slow"), TransientSendError),
        (ConnectionRefusedError(111, "refused"), TransientSendError),
        (TimeoutError(), TransientSendError),
    ],
)
def test_4xx_and_lost_connections_wait_5xx_refusals_fail_configuration_dead_letters(
    error: Exception, kind: type
) -> None:
    sorted_as = classify(error)
    assert type(sorted_as) is kind
    # An outage is waited out by the consumer; nothing else is.
    assert classify_failure(sorted_as).transient is (kind is TransientSendError)


def _parsed(rendered: RenderedEmail, mail_from: str) -> EmailMessage:
    raw = message_bytes(rendered, mail_from)
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line ends only
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    assert not parsed.defects
    return parsed


def test_message_has_both_parts_and_the_stable_message_id() -> None:
    email = Email(uuid4(), "t", "reservation_confirmed", "ada@example.com", "Hi")
    rendered = RenderedEmail(email, "<x@d>", "plain", "<p>html</p>")
    message = _parsed(rendered, Settings().mail_from)
    assert message["Message-ID"] == "<x@d>"
    assert message["To"] == "ada@example.com"
    assert message["From"] == "Studio <no-reply@studio.example>"
    assert message["Subject"] == "Hi"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Notifier-Event-Id"] == str(email.event_id)
    assert message["X-Notifier-Template"] == "reservation_confirmed"
    assert message["Date"].datetime is not None
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content() == "plain\r\n"
    assert html.get_content() == "<p>html</p>\r\n"


def test_message_keeps_any_text_exactly_and_headers_on_their_own_lines() -> None:
    text = (
        "Prix : 150,00 € — Zoë's café\n"
        ".a line that starts with a dot\n"
        "trailing spaces   \n"
        "=?utf-8?q?not_a_header?= and --=_boundary-looking text\n"
        + "a long line " * 20
        + "\r\nlast line without a newline"
    )
    subject = "Réservation confirmée : Mixage\r\nBcc: everyone@example.com " + "x" * 90
    email = Email(uuid4(), "t", "reservation_confirmed", "zoë@exämple.com", subject)
    rendered = RenderedEmail(email, "<x@d>", text, f"<p>{text}</p>")
    message = _parsed(rendered, "Zoë's Studio <no-reply@studio.example>")
    assert message["Bcc"] is None
    assert message["Subject"] == subject.replace("\r\n", " ")
    assert message["From"].addresses[0].display_name == "Zoë's Studio"
    assert message["To"] == "zoë@exämple.com"
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None
    assert html is not None
    # As a receiver reads them: CRLF line ends, as SMTP carries them, and a final one added.
    expected = text.replace("\r\n", "\n").replace("\n", "\r\n") + "\r\n"
    assert plain.get_content() == expected
    assert html.get_content() == f"<p>{expected[:-2]}</p>\r\n"


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
    settings = Settings()
    assert settings.consumer_group == NOTIFIER_GROUP
    assert settings.http_port == 8003
    assert settings.topics == [RESERVATION_EVENTS, retry_topic(NOTIFIER_GROUP)]


@pytest.mark.parametrize(
    "address",
    [
        "ada@example.com",
        "o'brien+tag@example.com",
        "a..b@x",
        ".a@x.",
        "{x}|y=z?@a-b.c",
        "#!$%&*/^_`~-@e.f",
        "a" * 80 + "@example.com",  # folded like any long header
    ],
)
def test_a_plain_address_is_written_as_parsing_it_would_write_it(address: str) -> None:
    assert _PLAIN_ADDRESS.fullmatch(address)
    assert _address_header("To", address) == _parsed_address_header("To", address)


@pytest.mark.parametrize(
    "value",
    ["Ada <ada@example.com>", '"a b"@example.com', "zoë@example.com", "ada@example.com (Ada)"],
)
def test_anything_but_a_plain_address_is_parsed(value: str) -> None:
    assert not _PLAIN_ADDRESS.fullmatch(value)
