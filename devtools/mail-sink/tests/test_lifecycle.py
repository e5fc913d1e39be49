"""Store bound, SMTP AUTH, SMTP restart, settings, and the `python -m mail_sink` process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
import pytest

from mail_sink import MailSink, Settings

Mail = Callable[..., EmailMessage]


async def deliver(sink: MailSink, message: EmailMessage, **kwargs: Any) -> Any:
    return await aiosmtplib.send(
        message, hostname="127.0.0.1", port=sink.smtp_port, timeout=5, **kwargs
    )


async def test_store_keeps_only_the_newest(mail: Mail) -> None:
    async with MailSink(smtp_port=0, http_port=0, max_messages=3) as sink:
        for i in range(5):
            await deliver(sink, mail(subject=f"n{i}"))
        await sink.wait_for(lambda ms: ms[0].subject == "n4" if ms else False)
        assert [m.subject for m in sink.store.newest_first()] == ["n4", "n3", "n2"]
        assert sink.store.received == 5
        async with httpx.AsyncClient(base_url=sink.http_url) as api:
            body = (await api.get("/api/v1/messages")).json()
        assert body["total"] == 3
        assert [m["Subject"] for m in body["messages"]] == ["n4", "n3", "n2"]


async def test_auth_not_offered_by_default(sink: MailSink, mail: Mail) -> None:
    with pytest.raises(aiosmtplib.SMTPException, match=r"(?i)auth"):
        await deliver(sink, mail(), username="u", password="p")


async def test_accept_any_credentials(mail: Mail) -> None:
    async with MailSink(smtp_port=0, http_port=0, accept_auth=True) as sink:
        await deliver(sink, mail(), username="notifier", password="whatever")
        [message] = await sink.wait_for(1)
        assert message.username == "notifier"
        await deliver(sink, mail())  # AUTH stays optional
        await sink.wait_for(2)
        async with httpx.AsyncClient(base_url=sink.http_url) as api:
            body = (await api.get("/api/v1/messages")).json()
        assert [m["Username"] for m in body["messages"]] == ["", "notifier"]


async def test_configured_credentials_checked(mail: Mail) -> None:
    async with MailSink(
        smtp_port=0, http_port=0, accept_auth=True, auth_username="u", auth_password="right"
    ) as sink:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as refused:
            await deliver(sink, mail(), username="u", password="wrong")
        assert refused.value.code == 535
        await deliver(sink, mail(), username="u", password="right")
        await sink.wait_for(1)


async def test_smtp_down_then_back(sink: MailSink, mail: Mail) -> None:
    port = sink.smtp_port
    await sink.stop_smtp()
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await deliver(sink, mail(subject="lost"))
    await sink.start_smtp()
    assert sink.smtp_port == port
    await deliver(sink, mail(subject="after restart"))
    [message] = await sink.wait_for(1)
    assert message.subject == "after restart"


def test_settings_from_env() -> None:
    settings = Settings.from_env(
        {
            "MAIL_SINK_SMTP_HOST": "0.0.0.0",
            "MAIL_SINK_SMTP_PORT": "2525",
            "MAIL_SINK_HTTP_PORT": "0",
            "MAIL_SINK_MAX_MESSAGES": "10",
            "MAIL_SINK_ACCEPT_AUTH": "true",
        }
    )
    assert settings.smtp_host == "0.0.0.0"
    assert settings.smtp_port == 2525
    assert settings.http_host == "127.0.0.1"
    assert settings.http_port == 0
    assert settings.max_messages == 10
    assert settings.accept_auth is True
    assert Settings.from_env({}) == Settings()
    for bad in ({"MAIL_SINK_SMTP_PORT": "x"}, {"MAIL_SINK_HTTP_PORT": "70000"},
                {"MAIL_SINK_MAX_MESSAGES": "0"}, {"MAIL_SINK_ACCEPT_AUTH": "maybe"}):  # fmt: skip
        with pytest.raises(ValueError, match="MAIL_SINK_"):
            Settings.from_env(bad)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def eventually(probe: Callable[[], Awaitable[Any]], within: float = 15.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await probe()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.05)


async def test_module_entrypoint(mail: Mail) -> None:
    smtp_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "MAIL_SINK_SMTP_PORT": str(smtp_port),
        "MAIL_SINK_HTTP_PORT": str(http_port),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "mail_sink", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as api:

            async def ready() -> bool:
                if process.returncode is not None:
                    raise AssertionError("mail_sink exited early")
                try:
                    return (await api.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready)
            await aiosmtplib.send(mail(subject="via -m"), hostname="127.0.0.1", port=smtp_port)

            async def subjects() -> list[str]:
                body = (await api.get("/api/v1/messages")).json()
                return [m["Subject"] for m in body["messages"]]

            assert await eventually(subjects) == ["via -m"]
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.stderr is not None
    banner = await process.stderr.read()
    assert f"SMTP on 127.0.0.1:{smtp_port}".encode() in banner
