"""SmtpSender against the real mail sink: one connection kept open, replaced when it is lost, a
send tried once more only when nothing can have been accepted, AUTH once per connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from pydantic import SecretStr

from mail_sink import Fault, MailSink
from notifier.adapters.smtp import SmtpSender
from notifier.domain.errors import PermanentRecipientError, SendError, TransientSendError
from notifier.domain.model import Email, RenderedEmail
from notifier.settings import Settings

pytestmark = pytest.mark.integration


def _email(to: str) -> RenderedEmail:
    event_id = uuid4()
    email = Email(event_id, "reservation.confirmed.v1", "reservation_confirmed", to, "Hi")
    return RenderedEmail(email, f"<{event_id}@test>", "plain", "<p>html</p>")


def _sender(sink: MailSink, **settings: Any) -> SmtpSender:
    return SmtpSender(Settings(smtp_port=sink.smtp_port, smtp_timeout_s=3, **settings))


async def test_one_connection_kept_open_and_replaced_when_lost(
    sink: MailSink, user: Callable[[str], str]
) -> None:
    sender = _sender(sink)
    try:
        for _ in range(3):
            await sender.send(_email(user("kept")))
        assert sender.connections == 1

        sink.faults.set(Fault("reject_recipient", code=550, recipient=user("refused")))
        with pytest.raises(PermanentRecipientError, match="550"):
            await sender.send(_email(user("refused")))
        await sender.send(_email(user("kept")))
        assert sender.connections == 1  # RSET after the refusal, the same connection

        await sink.stop_smtp()  # drops open sessions, as a restarted server would
        with pytest.raises(TransientSendError, match="unavailable"):
            await sender.send(_email(user("kept")))
        await sink.start_smtp()
        await sender.send(_email(user("kept")))
        assert sender.connections == 2
        assert len([m for m in sink.store.newest_first() if m.to[0].address == user("kept")]) == 5
    finally:
        await sender.close()


async def test_421_on_a_kept_connection_is_tried_once_more_on_a_new_one(
    sink: MailSink, user: Callable[[str], str]
) -> None:
    sender = _sender(sink)
    try:
        await sender.send(_email(user("first")))
        # The server closing a kept-open session (421 at MAIL FROM): nothing was accepted, so
        # the send goes through on a new connection.
        sink.faults.set(Fault("reject_all", code=421, stage="mail", times=1))
        await sender.send(_email(user("second")))
        assert sender.connections == 2
        assert [m.to[0].address for m in sink.store.newest_first()] == [
            user("second"),
            user("first"),
        ]
        # On a connection just opened, the same refusal is the server's answer: raised.
        await sender.close()
        sink.faults.set(Fault("reject_all", code=421, stage="mail", times=1))
        with pytest.raises(TransientSendError, match="421"):
            await sender.send(_email(user("third")))
        assert sender.connections == 3
        # And a refusal after the data was sent is never tried again by the sender.
        sink.faults.set(Fault("reject_all", code=451, stage="data", times=1))
        with pytest.raises(TransientSendError, match="451"):
            await sender.send(_email(user("fourth")))
        assert len(sink.store.newest_first()) == 2
    finally:
        await sender.close()


async def test_auth_once_per_connection() -> None:
    async with MailSink(
        smtp_port=0,
        http_port=0,
        accept_auth=True,
        auth_username="notifier",
        auth_password="s3cret",
    ) as sink:
        sender = _sender(sink, smtp_username="notifier", smtp_password=SecretStr("s3cret"))
        try:
            await sender.send(_email("a@example.test"))
            await sender.send(_email("b@example.test"))
            assert sender.connections == 1
            assert [m.username for m in sink.store.newest_first()] == ["notifier", "notifier"]
        finally:
            await sender.close()
        wrong = _sender(sink, smtp_username="notifier", smtp_password=SecretStr("nope"))
        with pytest.raises(SendError, match="SMTPAuthenticationError") as refused:
            await wrong.send(_email("c@example.test"))
        # Our credentials, not an outage: bounded retries, then the DLQ (replay once fixed).
        assert not isinstance(refused.value, TransientSendError)
        assert len(sink.store.newest_first()) == 2
