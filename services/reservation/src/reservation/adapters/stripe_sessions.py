"""Checkout Sessions read (and, when overdue, expired) at Stripe for the worker's look-ups."""

from __future__ import annotations

from typing import Any

import stripe

from reservation.adapters.stripe_gateway import PaymentGatewayError
from reservation.settings import StripeSettings


class StripeSessions:
    """GET /v1/checkout/sessions/{id} and POST .../expire through the stripe package."""

    def __init__(self, settings: StripeSettings) -> None:
        self._client = stripe.StripeClient(
            settings.api_key.get_secret_value(),
            base_addresses={"api": settings.api_base},
            max_network_retries=settings.max_network_retries,
        )

    async def retrieve(self, session_id: str) -> dict[str, Any]:
        """The session as Stripe sees it now."""
        try:
            session = await self._client.v1.checkout.sessions.retrieve_async(session_id)
        except stripe.StripeError as exc:
            raise PaymentGatewayError(f"retrieving {session_id} failed: {exc}") from exc
        return session.to_dict()

    async def expire(self, session_id: str) -> dict[str, Any]:
        """End an open session; a session no longer open is read instead (it ended meanwhile)."""
        try:
            # No idempotency key: expiring is safe to repeat (a session no longer open is
            # refused, then read), and Stripe would replay a stored 500 to every retry.
            session = await self._client.v1.checkout.sessions.expire_async(session_id)
        except stripe.InvalidRequestError:
            # Paid or expired in the meantime: Stripe refuses to expire it, its state is final.
            return await self.retrieve(session_id)
        except stripe.StripeError as exc:
            raise PaymentGatewayError(f"expiring {session_id} failed: {exc}") from exc
        return session.to_dict()
