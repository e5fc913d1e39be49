"""The Mailpit-shaped HTTP API over messages really sent over SMTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx

from mail_sink import MailSink

Send = Callable[..., Awaitable[Any]]
Listed = Callable[[int], Awaitable[list[dict[str, Any]]]]
Mail = Callable[..., EmailMessage]

SUMMARY_KEYS = {
    "ID", "MessageID", "Read", "From", "To", "Cc", "Bcc", "ReplyTo", "Subject",
    "Created", "Username", "Tags", "Size", "Attachments", "Snippet",
}  # fmt: skip


async def test_list_shape_and_newest_first(
    sink: MailSink, api: httpx.AsyncClient, send: Send, listed: Listed, mail: Mail
) -> None:
    await send(mail(subject="first"))
    await send(mail(subject="second"))
    shown = await listed(2)
    body = (await api.get("/api/v1/messages")).json()
    assert {"total", "unread", "count", "messages_count", "start", "tags"} <= body.keys()
    assert body["total"] == body["count"] == body["messages_count"] == 2
    assert body["unread"] == 2
    assert body["start"] == 0
    assert [m["Subject"] for m in shown] == ["second", "first"]
    summary = shown[0]
    assert set(summary) >= SUMMARY_KEYS
    assert summary["From"] == {"Name": "Shop", "Address": "shop@example.com"}
    assert summary["To"] == [{"Name": "Bob", "Address": "bob@example.com"}]
    assert summary["Read"] is False
    assert summary["Snippet"] == "plain body"
    assert summary["Size"] > 0
    assert summary["Created"].endswith("Z")


async def test_multipart_non_ascii_round_trip(
    sink: MailSink, api: httpx.AsyncClient, send: Send, listed: Listed, mail: Mail
) -> None:
    message = mail(
        subject="Réservation confirmée ✓ - 12 €",
        to="Zoë Müller <zoe@example.com>",
        sender="Café Ünïcode <cafe@example.com>",
        text="Bonjour Zoë,\nvotre réservation est confirmée.\n",
        html="<p>Bonjour <b>Zoë</b>, &lt;script&gt; stays escaped</p>\n",
        message_id="<reservation.confirmed.42@payments.test>",
    )
    await send(message)
    [summary] = await listed(1)
    assert summary["Subject"] == "Réservation confirmée ✓ - 12 €"
    assert summary["To"] == [{"Name": "Zoë Müller", "Address": "zoe@example.com"}]
    assert summary["MessageID"] == "reservation.confirmed.42@payments.test"

    full = (await api.get(f"/api/v1/message/{summary['ID']}")).json()
    assert full["From"] == {"Name": "Café Ünïcode", "Address": "cafe@example.com"}
    assert full["Text"] == "Bonjour Zoë,\nvotre réservation est confirmée.\n"
    assert full["HTML"] == "<p>Bonjour <b>Zoë</b>, &lt;script&gt; stays escaped</p>\n"
    assert full["MessageID"] == "reservation.confirmed.42@payments.test"
    assert full["ReturnPath"] == "cafe@example.com"
    assert full["Attachments"] == []
    assert full["Inline"] == []

    headers = (await api.get(f"/api/v1/message/{summary['ID']}/headers")).json()
    assert headers["Message-Id"] == ["<reservation.confirmed.42@payments.test>"]
    assert headers["Content-Type"][0].startswith("multipart/alternative")
    assert headers["Subject"][0].startswith("=?utf-8?")  # raw, still encoded, like Mailpit

    raw = await api.get(f"/api/v1/message/{summary['ID']}/raw")
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("text/plain")
    assert b"Message-ID: <reservation.confirmed.42@payments.test>" in raw.content


async def test_envelope_only_recipients_show_as_bcc(
    sink: MailSink, api: httpx.AsyncClient, send: Send, listed: Listed, mail: Mail
) -> None:
    await send(
        mail(),
        sender="bounce@example.com",
        recipients=["bob@example.com", "audit@example.com"],
    )
    [summary] = await listed(1)
    assert summary["Bcc"] == [{"Name": "", "Address": "audit@example.com"}]
    full = (await api.get(f"/api/v1/message/{summary['ID']}")).json()
    assert full["Envelope"] == {
        "From": "bounce@example.com",
        "To": ["bob@example.com", "audit@example.com"],
    }


async def test_attachment_counted(
    sink: MailSink, api: httpx.AsyncClient, send: Send, listed: Listed, mail: Mail
) -> None:
    message = mail(html="<p>x</p>")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="r.pdf")
    await send(message)
    [summary] = await listed(1)
    assert summary["Attachments"] == 1
    full = (await api.get(f"/api/v1/message/{summary['ID']}")).json()
    [attachment] = full["Attachments"]
    assert attachment["FileName"] == "r.pdf"
    assert attachment["ContentType"] == "application/pdf"
    assert attachment["Size"] == 8
    assert full["Text"] == "plain body\n"
    assert full["HTML"] == "<p>x</p>\n"


async def test_reading_marks_read_and_latest(
    sink: MailSink, api: httpx.AsyncClient, send: Send, listed: Listed, mail: Mail
) -> None:
    await send(mail(subject="a"))
    await send(mail(subject="b"))
    await listed(2)
    latest = (await api.get("/api/v1/message/latest")).json()
    assert latest["Subject"] == "b"
    body = (await api.get("/api/v1/messages")).json()
    assert body["unread"] == 1
    assert [m["Read"] for m in body["messages"]] == [True, False]
    assert (await api.get("/api/v1/message/nope")).status_code == 404
    assert (await api.get("/api/v1/message/nope/raw")).status_code == 404


async def test_pagination(
    sink: MailSink, api: httpx.AsyncClient, send: Send, listed: Listed, mail: Mail
) -> None:
    for i in range(5):
        await send(mail(subject=f"m{i}"))
    await listed(5)
    body = (await api.get("/api/v1/messages", params={"start": 1, "limit": 2})).json()
    assert [m["Subject"] for m in body["messages"]] == ["m3", "m2"]
    assert body["count"] == 2
    assert body["total"] == 5
    assert body["start"] == 1


async def test_delete_some_then_all(
    sink: MailSink, api: httpx.AsyncClient, send: Send, listed: Listed, mail: Mail
) -> None:
    for i in range(3):
        await send(mail(subject=f"d{i}"))
    found = await listed(3)
    response = await api.request("DELETE", "/api/v1/messages", json={"IDs": [found[0]["ID"]]})
    assert response.status_code == 200
    assert response.text == "ok"
    remaining = (await api.get("/api/v1/messages")).json()
    assert [m["Subject"] for m in remaining["messages"]] == ["d1", "d0"]
    assert (await api.delete("/api/v1/messages")).status_code == 200
    assert (await api.get("/api/v1/messages")).json()["total"] == 0


async def test_search(
    sink: MailSink, api: httpx.AsyncClient, send: Send, listed: Listed, mail: Mail
) -> None:
    await send(
        mail(
            subject="Payment failed",
            to="Ann <ann@example.com>",
            text="Please retry at checkout",
            message_id="<pay.failed.7@payments.test>",
        ),
    )
    await send(mail(subject="Reservation confirmed", to="bob@example.com"))
    await listed(2)

    async def subjects(query: str) -> list[str]:
        body = (await api.get("/api/v1/search", params={"query": query})).json()
        assert body["count"] == len(body["messages"]) == body["messages_count"]
        return [m["Subject"] for m in body["messages"]]

    assert await subjects("to:ann@example.com") == ["Payment failed"]
    assert await subjects('subject:"reservation confirmed"') == ["Reservation confirmed"]
    assert await subjects("message-id:pay.failed.7@payments.test") == ["Payment failed"]
    assert await subjects("message-id:<pay.failed.7@payments.test>") == ["Payment failed"]
    assert await subjects("checkout") == ["Payment failed"]
    assert await subjects("-to:ann@example.com") == ["Reservation confirmed"]
    assert await subjects("to:bob subject:payment") == []
    assert await subjects("shop@example.com") == ["Reservation confirmed", "Payment failed"]

    response = await api.delete("/api/v1/search", params={"query": "to:ann@example.com"})
    assert response.status_code == 200
    assert await subjects("") == ["Reservation confirmed"]


async def test_health(
    sink: MailSink, api: httpx.AsyncClient, send: Send, listed: Listed, mail: Mail
) -> None:
    assert (await api.get("/livez")).status_code == 200
    assert (await api.get("/readyz")).status_code == 200
    await sink.stop_smtp()
    assert (await api.get("/readyz")).status_code == 503
    await sink.start_smtp()
    assert (await api.get("/readyz")).status_code == 200


async def test_content_parsed_on_first_read_only(
    sink: MailSink, api: httpx.AsyncClient, mail: Mail
) -> None:
    # Several messages over one session, as a sender keeping its connection open sends them.
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.smtp_port, timeout=5) as smtp:
        for i in range(3):
            await smtp.send_message(mail(subject=f"kept {i}", text=f"body {i}"))
    stored = await sink.wait_for(3)
    # Accepting a message does not parse it (under load most are never read)...
    assert not any(m.parsed for m in stored)
    assert [m.size for m in stored] == [len(m.raw) for m in stored]
    # ...reading it does, once.
    body = (await api.get("/api/v1/messages")).json()
    assert [m["Subject"] for m in body["messages"]] == ["kept 2", "kept 1", "kept 0"]
    assert [m["Snippet"] for m in body["messages"]] == ["body 2", "body 1", "body 0"]
    assert all(m.parsed for m in stored)
