"""Fixtures: a real MailSink on free ports and an HTTP client for its API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
import pytest

from mail_sink import MailSink


@pytest.fixture
async def sink() -> AsyncIterator[MailSink]:
    async with MailSink(smtp_port=0, http_port=0) as running:
        yield running


@pytest.fixture
async def api(sink: MailSink) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sink.http_url, timeout=5.0) as client:
        yield client


@pytest.fixture
def send(sink: MailSink) -> Callable[..., Awaitable[Any]]:
    """Send a message to the sink over SMTP with aiosmtplib."""

    async def _send(message: EmailMessage, **kwargs: Any) -> Any:
        return await aiosmtplib.send(
            message, hostname="127.0.0.1", port=sink.smtp_port, timeout=5, **kwargs
        )

    return _send


@pytest.fixture
def listed(api: httpx.AsyncClient) -> Callable[[int], Awaitable[list[dict[str, Any]]]]:
    """Wait (polling, with a deadline) until the API lists at least N messages."""

    async def _listed(count: int) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]] | None:
            body = (await api.get("/api/v1/messages")).json()
            return body["messages"] if len(body["messages"]) >= count else None

        result: list[dict[str, Any]] = await eventually(probe)
        return result

    return _listed


@pytest.fixture
def mail() -> Callable[..., EmailMessage]:
    return make_message


def make_message(
    subject: str = "Hello",
    to: str = "Bob <bob@example.com>",
    sender: str = "Shop <shop@example.com>",
    text: str = "plain body",
    html: str | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


async def eventually(
    probe: Callable[[], Awaitable[Any]], within: float = 5.0, interval: float = 0.02
) -> Any:
    """Call `probe` until it returns something truthy, or fail after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await probe()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s (last: {result!r})")
        await asyncio.sleep(interval)
