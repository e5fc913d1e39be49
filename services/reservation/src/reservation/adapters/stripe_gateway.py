"""The Stripe calls the reservation service makes: refunds, and listings for reconciliation."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import stripe

from reservation.settings import StripeSettings


@dataclass(frozen=True)
class Refund:
    """A refund Stripe created (or replayed for the same idempotency key)."""

    id: str
    amount: int
    currency: str


class PaymentGatewayError(RuntimeError):
    """Stripe did not answer as hoped; retried (the idempotency key keeps it safe)."""


class StripeGateway:
    """A thin wrapper around the stripe package, pointed at STRIPE_API_BASE."""

    def __init__(self, settings: StripeSettings) -> None:
        self._client = stripe.StripeClient(
            settings.api_key.get_secret_value(),
            base_addresses={"api": settings.api_base},
            max_network_retries=settings.max_network_retries,
        )

    async def refund(
        self, payment_intent_id: str, amount: int, *, idempotency_key: str, reason: str
    ) -> Refund:
        """Refund `amount` of a PaymentIntent; the same key always yields the same refund."""
        try:
            refund = await self._client.v1.refunds.create_async(
                params={
                    "payment_intent": payment_intent_id,
                    "amount": amount,
                    "metadata": {"reason": reason},
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise PaymentGatewayError(f"refund of {payment_intent_id} failed: {exc}") from exc
        return Refund(refund.id, int(refund.amount), str(refund.currency))

    async def checkout_sessions(self, created_gte: int) -> list[dict[str, Any]]:
        """Every Checkout Session created since `created_gte` (Unix seconds)."""
        return await asyncio.to_thread(self._list_sessions, created_gte)

    async def events(self, created_gte: int, types: list[str]) -> list[dict[str, Any]]:
        """Every event of `types` created since `created_gte`, oldest first."""
        return await asyncio.to_thread(self._list_events, created_gte, types)

    def _list_sessions(self, created_gte: int) -> list[dict[str, Any]]:
        page = self._client.v1.checkout.sessions.list(
            params={"created": {"gte": created_gte}, "limit": 100}
        )
        return [s.to_dict() for s in page.auto_paging_iter()]

    def _list_events(self, created_gte: int, types: list[str]) -> list[dict[str, Any]]:
        page = self._client.v1.events.list(
            params={"created": {"gte": created_gte}, "types": types, "limit": 100}
        )
        found = [e.to_dict() for e in page.auto_paging_iter()]
        return sorted(found, key=lambda e: (e.get("created", 0), e.get("id", "")))
