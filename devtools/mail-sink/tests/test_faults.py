"""Injected refusals reach the SMTP client with the requested 4xx/5xx codes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
import pytest

Send = Callable[..., Awaitable[Any]]
Listed = Callable[[int], Awaitable[list[dict[str, Any]]]]
Mail = Callable[..., EmailMessage]


async def total(api: httpx.AsyncClient) -> int:
    count: int = (await api.get("/api/v1/messages")).json()["total"]
    return count


@pytest.mark.parametrize("code", [451, 550])
async def test_reject_all_at_mail_from(
    api: httpx.AsyncClient, send: Send, mail: Mail, code: int
) -> None:
    response = await api.post("/_sink/faults", json={"mode": "reject_all", "code": code})
    assert response.status_code == 200
    assert response.json()["mode"] == "reject_all"
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
        await send(mail())
    assert refused.value.code == code
    assert await total(api) == 0


async def test_reject_all_after_data(api: httpx.AsyncClient, send: Send, mail: Mail) -> None:
    await api.post(
        "/_sink/faults",
        json={"mode": "reject_all", "code": 554, "stage": "data", "message": "5.6.0 no thanks"},
    )
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await send(mail())
    assert refused.value.code == 554
    assert "no thanks" in refused.value.message
    assert await total(api) == 0


async def test_reject_all_at_rcpt(api: httpx.AsyncClient, send: Send, mail: Mail) -> None:
    await api.post("/_sink/faults", json={"mode": "reject_all", "code": 450, "stage": "rcpt"})
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send(mail())
    assert [r.code for r in refused.value.recipients] == [450]


@pytest.mark.parametrize("code", [451, 550])
async def test_reject_one_recipient(
    api: httpx.AsyncClient, send: Send, listed: Listed, mail: Mail, code: int
) -> None:
    await api.post(
        "/_sink/faults",
        json={"mode": "reject_recipient", "recipient": "Bad@Example.com", "code": code},
    )
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send(mail(to="bad@example.com"))
    [recipient] = refused.value.recipients
    assert recipient.code == code
    assert recipient.recipient == "bad@example.com"

    errors, _ = await send(mail(to="good@example.com, bad@example.com"))
    assert errors["bad@example.com"].code == code
    [kept] = await listed(1)
    assert kept["To"][0]["Address"] == "good@example.com"
    assert kept["Bcc"] == []  # only good@ received it, and it is listed in To


async def test_limited_fault_then_recovery(
    api: httpx.AsyncClient, send: Send, listed: Listed, mail: Mail
) -> None:
    await api.post("/_sink/faults", json={"mode": "reject_all", "code": 421, "times": 2})
    for remaining in (1, None):
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await send(mail())
        assert refused.value.code == 421
        state = (await api.get("/_sink/faults")).json()
        assert state.get("remaining") == remaining
    await send(mail(subject="third time lucky"))
    [kept] = await listed(1)
    assert kept["Subject"] == "third time lucky"


async def test_clearing_faults(
    api: httpx.AsyncClient, send: Send, listed: Listed, mail: Mail
) -> None:
    await api.post("/_sink/faults", json={"mode": "reject_all"})
    with pytest.raises(aiosmtplib.SMTPSenderRefused):
        await send(mail())
    assert (await api.delete("/_sink/faults")).json() == {"mode": "none"}
    await send(mail())
    await listed(1)
    await api.post("/_sink/faults", json={"mode": "reject_all"})
    assert (await api.post("/_sink/faults", json={"mode": "none"})).json() == {"mode": "none"}


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "reject_all", "code": 250},
        {"mode": "reject_recipient", "code": 550},
        {"mode": "explode"},
        {"mode": "reject_all", "times": 0},
    ],
)
async def test_invalid_faults_rejected(api: httpx.AsyncClient, body: dict[str, Any]) -> None:
    assert (await api.post("/_sink/faults", json=body)).status_code == 422
    assert (await api.get("/_sink/faults")).json() == {"mode": "none"}


async def test_mailpit_chaos_triggers(
    api: httpx.AsyncClient, send: Send, listed: Listed, mail: Mail
) -> None:
    defaults = (await api.get("/api/v1/chaos")).json()
    assert defaults["Sender"] == {"ErrorCode": 451, "Probability": 0}
    assert defaults["Authentication"]["ErrorCode"] == 535

    chaos = {"Recipient": {"ErrorCode": 452, "Probability": 100}}
    updated = (await api.put("/api/v1/chaos", json=chaos)).json()
    assert updated["Recipient"] == {"ErrorCode": 452, "Probability": 100}
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send(mail())
    assert refused.value.recipients[0].code == 452

    assert (await api.put("/api/v1/chaos", json={})).json() == defaults
    await send(mail())
    await listed(1)
    bad = {"Sender": {"ErrorCode": 200, "Probability": 100}}
    assert (await api.put("/api/v1/chaos", json=bad)).status_code == 400
