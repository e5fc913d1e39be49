"""A running stack seen from outside: the browser's calls, Stripe's control API, the mail sink."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from backbone.settings import KafkaSettings
from contracts.reservation import FactBase, parse_fact
from contracts.topics import RESERVATION_EVENTS, RESERVATION_GROUP
from devstack.broker import EmbeddedBroker
from devstack.running import RunningStack
from devstack.stack import DEV_STRIPE_API_KEY
from devstack.testing import distinct_slot, eventually

MESSAGE_ID_DOMAIN = "notifier.payment-backbone"


def next_slot() -> str:
    """A slot start no other booking of this test session uses, within the booking horizon.

    Sixty days ahead: far enough that no hold is cut short by the slot's start.
    """
    return distinct_slot(days=60, window_hours=7_200).isoformat()


@dataclass(frozen=True)
class User:
    """A signed-in user of the site."""

    id: str
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        """The Authorization header a frontend sends."""
        return {"Authorization": f"Bearer {self.token}"}


def fact_id(message: dict[str, Any]) -> str | None:
    """The fact id a notifier message was sent for, read from its Message-ID."""
    value = (message.get("MessageID") or "").strip("<>")
    suffix = f"@{MESSAGE_ID_DOMAIN}"
    return value[: -len(suffix)] if value.endswith(suffix) else None


@dataclass
class Harness:
    """One running stack and the HTTP calls a test makes to it."""

    stack: RunningStack
    kafka: KafkaSettings
    broker: EmbeddedBroker | None
    work_dir: Path
    timeout: float = 30.0
    _client: httpx.AsyncClient | None = field(default=None, init=False)

    @property
    def http(self) -> httpx.AsyncClient:
        """One client per harness, opened on first use (in the test session's loop)."""
        if self._client is None or self._client.is_closed:
            # Idle connections are dropped well before the servers close theirs (HTTP_KEEP_ALIVE_S,
            # 5 s; httpx's default is also 5 s): a request sent on a connection the server is
            # closing at that moment fails with a ReadError (test_faults failed once on one).
            limits = httpx.Limits(keepalive_expiry=2.0)
            self._client = httpx.AsyncClient(timeout=15.0, limits=limits)
        return self._client

    def url(self, part: str, path: str = "") -> str:
        """Address of one part of the stack."""
        return self.stack.url(part, path)

    def user(self, name: str = "user") -> User:
        """A new user with a unique id and address, and a token the services accept."""
        suffix = uuid.uuid4().hex[:10]
        user_id, email = f"user_{name}_{suffix}", f"{name}.{suffix}@customers.example"
        return User(user_id, email, self.stack.token(user_id, email))

    # the site, as a frontend calls it

    async def book(self, user: User, service_id: str = "recording") -> dict[str, Any]:
        """POST /api/reservations on a slot nobody else uses."""
        response = await self.http.post(
            self.url("reservation-api", "/api/reservations"),
            json={"service_id": service_id, "starts_at": next_slot()},
            headers=user.auth,
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def book_at(
        self, user: User, starts_at: str, service_id: str = "recording"
    ) -> httpx.Response:
        """POST /api/reservations on a given slot; the raw answer (201 or 409)."""
        return await self.http.post(
            self.url("reservation-api", "/api/reservations"),
            json={"service_id": service_id, "starts_at": starts_at},
            headers=user.auth,
        )

    async def reservation(self, user: User, reservation_id: str) -> dict[str, Any]:
        """GET /api/reservations/{id}."""
        response = await self.http.get(
            self.url("reservation-api", f"/api/reservations/{reservation_id}"), headers=user.auth
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def create_session(
        self,
        user: User,
        reservation_ids: list[str] = (),  # type: ignore[assignment]
        cart_item_ids: list[str] = (),  # type: ignore[assignment]
    ) -> dict[str, Any]:
        """POST /api/clerk/create-checkout-session: {sessionId, url}."""
        response = await self.http.post(
            self.url("checkout", "/api/clerk/create-checkout-session"),
            json={"reservationIds": list(reservation_ids), "cartItemIds": list(cart_item_ids)},
            headers=user.auth,
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def wait_status(
        self, user: User, reservation_id: str, status: str, timeout: float | None = None
    ) -> dict[str, Any]:
        """Poll the reservation API until the reservation has `status`."""
        last: dict[str, Any] = {}

        async def probe() -> dict[str, Any] | None:
            nonlocal last
            last = await self.reservation(user, reservation_id)
            return last if last["status"] == status else None

        result = await eventually(
            probe,
            timeout=timeout or self.timeout,
            interval=0.2,
            what=lambda: f"reservation {reservation_id} {status} (is {last.get('status')})",
        )
        assert result is not None
        return result

    # Stripe: the hosted page and the emulator's control API

    async def complete(self, session_id: str, outcome: str) -> dict[str, Any]:
        """Play a customer outcome on the emulator (paid, delayed, delayed_succeeded, ...)."""
        response = await self.http.post(
            self.url("stripe-emulator", f"/_emulator/checkout/sessions/{session_id}/complete"),
            json={"outcome": outcome},
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def keep_open(self, session_id: str) -> None:
        """Stripe refuses to expire this session until faults are cleared: checkout cannot expire
        it when a newer session of its reservations is made, so a payment can still land on it
        (a user who paid in an old tab just before). Skips on an emulator without the fault API
        of CONTRACTS.md (path_prefix, count null)."""
        if (
            await self.http.get(self.url("stripe-emulator", "/_emulator/faults"))
        ).status_code != 200:
            pytest.skip("the Stripe emulator predates the CONTRACTS.md fault API")
        response = await self.http.post(
            self.url("stripe-emulator", "/_emulator/faults"),
            json={
                "api_status": 503,
                "count": None,
                "path_prefix": f"/v1/checkout/sessions/{session_id}/expire",
            },
        )
        assert response.status_code == 200, response.text

    async def page_action(self, session_url: str, action: str) -> httpx.Response:
        """Press a button of the hosted payment page (pay, delayed, fail, cancel)."""
        page = await self.http.get(session_url)
        assert page.status_code == 200, page.text
        assert f"/{action}'" in page.text, f"no {action} button on the page"
        return await self.http.post(f"{session_url}/{action}", data={"action": action})

    async def stripe_session(self, session_id: str) -> dict[str, Any]:
        """GET /v1/checkout/sessions/{id} with the secret key."""
        response = await self.http.get(
            self.url("stripe-emulator", f"/v1/checkout/sessions/{session_id}"),
            headers={"Authorization": f"Bearer {DEV_STRIPE_API_KEY}"},
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def stripe_events(self) -> list[dict[str, Any]]:
        """Every event the emulator recorded (GET /v1/events, all pages), oldest first."""
        events: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            response = await self.http.get(
                self.url("stripe-emulator", "/v1/events"),
                params=params,
                headers={"Authorization": f"Bearer {DEV_STRIPE_API_KEY}"},
            )
            assert response.status_code == 200, response.text
            page = response.json()
            events.extend(page["data"])
            if not page.get("has_more") or not page["data"]:
                break
            params["starting_after"] = page["data"][-1]["id"]
        return sorted(events, key=lambda e: (e["created"], e["id"]))

    async def deliveries(self) -> list[dict[str, Any]]:
        """The emulator's webhook delivery log, oldest first."""
        response = await self.http.get(self.url("stripe-emulator", "/_emulator/deliveries"))
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    async def webhook_settings(self, **changes: Any) -> dict[str, Any]:
        """Read (no changes) or change the emulator's webhook endpoints and secret."""
        path = self.url("stripe-emulator", "/_emulator/webhook")
        response = await (self.http.post(path, json=changes) if changes else self.http.get(path))
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def resend(self, event_id: str, times: int = 1) -> None:
        """Have the emulator deliver an event again (same id and body, fresh signature)."""
        response = await self.http.post(
            self.url("stripe-emulator", f"/_emulator/events/{event_id}/resend"),
            json={"times": times, "url": self.url("webhook-ingest", "/webhooks/stripe")},
        )
        assert response.status_code == 200, response.text

    async def deliveries_settled(self) -> bool:
        """Whether the emulator has no webhook delivery queued, in flight or waiting to retry."""
        response = await self.http.get(self.url("stripe-emulator", "/_emulator/deliveries"))
        return response.status_code == 200 and response.json()["pending"] == 0

    # the mail sink

    async def messages(self) -> list[dict[str, Any]]:
        """Every message the SMTP server kept (summaries), oldest first."""
        response = await self.http.get(
            self.url("mail-web", "/api/v1/messages"), params={"limit": 0}
        )
        assert response.status_code == 200, response.text
        return list(reversed(response.json()["messages"]))

    async def messages_to(self, email: str) -> list[dict[str, Any]]:
        """Messages addressed to `email`."""
        return [
            m
            for m in await self.messages()
            if any(a["Address"].lower() == email.lower() for a in m["To"])
        ]

    async def wait_messages_to(
        self, email: str, count: int, timeout: float | None = None
    ) -> list[dict[str, Any]]:
        """Poll until `email` got at least `count` distinct messages (by Message-ID)."""

        async def probe() -> list[dict[str, Any]] | None:
            found = await self.messages_to(email)
            return found if len({m["MessageID"] for m in found}) >= count else None

        result = await eventually(
            probe, timeout=timeout or self.timeout, interval=0.2, what=f"{count} e-mails to {email}"
        )
        assert result is not None
        return result

    async def message_text(self, message_id: str) -> str:
        """The plain-text body of one stored message (by the sink's ID)."""
        response = await self.http.get(self.url("mail-web", f"/api/v1/message/{message_id}"))
        assert response.status_code == 200, response.text
        return str(response.json().get("Text", ""))

    # what the services recorded (read only, to check facts against e-mails)

    async def facts(self) -> list[FactBase]:
        """Every fact the reservation service wrote to its outbox, in order."""
        url = self.stack.config.databases["reservation"]
        async with await psycopg.AsyncConnection.connect(url) as conn:
            cursor = await conn.execute(
                "SELECT value FROM outbox WHERE topic = %s ORDER BY id", (RESERVATION_EVENTS,)
            )
            rows = await cursor.fetchall()
        return [parse_fact(bytes(row[0])) for row in rows]

    async def applied_event_ids(self, consumer: str = RESERVATION_GROUP) -> set[str]:
        """The Stripe event ids in the reservation worker's inbox (applied or acknowledged)."""
        url = self.stack.config.databases["reservation"]
        async with await psycopg.AsyncConnection.connect(url) as conn:
            cursor = await conn.execute(
                "SELECT event_id FROM inbox WHERE consumer = %s", (consumer,)
            )
            rows = await cursor.fetchall()
        return {str(row[0]) for row in rows}

    async def facts_of(self, user: User) -> list[FactBase]:
        """The facts about one user."""
        return [f for f in await self.facts() if getattr(f, "user_id", None) == user.id]

    async def assert_one_email_per_fact(self, user: User, timeout: float | None = None) -> None:
        """Every fact about `user` got exactly one e-mail (by Message-ID), and nothing else."""
        state: dict[str, Any] = {}

        async def probe() -> bool:
            facts = {str(f.event_id) for f in await self.facts_of(user)}
            mails = await self.messages_to(user.email)
            state.update(facts=facts, mails=[(m["MessageID"], m["Subject"]) for m in mails])
            return bool(facts) and {fact_id(m) for m in mails} == facts

        await eventually(
            probe,
            timeout=timeout or self.timeout,
            interval=0.2,
            what=lambda: f"one e-mail per fact for {user.email}: {state}",
        )
        mails = await self.messages_to(user.email)
        assert len({m["MessageID"] for m in mails}) == len(state["facts"]), state
