"""The Stripe calls the reservation service makes: refunds, overdue sessions, reconciliation."""

from __future__ import annotations

import asyncio
from typing import Any

import stripe

from reservation.service_layer.ports import (
    PaymentGatewayError,
    Refund,
    RefundRefusedError,
    RefundRetryableError,
)
from reservation.settings import StripeSettings


def is_retryable(exc: stripe.StripeError) -> bool:
    """Whether Stripe could not answer (wait and retry) rather than said no (record, alert)."""
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError):
        return True
    # A key or permission problem is fixed by configuration, not by the request: wait it out.
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return True
    status = exc.http_status or 0
    return status >= 500 or status in (409, 429) or status == 0


class StripeGateway:
    """A thin wrapper around the stripe package, pointed at STRIPE_API_BASE."""

    def __init__(self, settings: StripeSettings) -> None:
        # Explicit bounds: stripe-python's defaults (80 s, 2 retries) would hold a refund round
        # for minutes; the executor retries on its own, with backoff, as long as Stripe is down.
        self._client = stripe.StripeClient(
            settings.api_key.get_secret_value(),
            base_addresses={"api": settings.api_base},
            max_network_retries=settings.max_network_retries,
            stripe_version=settings.api_version,
            http_client=stripe.HTTPXClient(
                timeout=settings.request_timeout_s, allow_sync_methods=True
            ),
        )

    async def refund(
        self, payment_intent_id: str, amount: int, *, idempotency_key: str, reason: str
    ) -> Refund:
        """Refund `amount` of a PaymentIntent; the same key always yields the same refund.

        RefundRetryableError when Stripe could not answer, RefundRefusedError when it said no.
        """
        try:
            refund = await self._client.v1.refunds.create_async(
                params={
                    "payment_intent": payment_intent_id,
                    "amount": amount,
                    # The key lets our worker recognise this refund in Stripe's events.
                    "metadata": {"reason": reason, "refund_key": idempotency_key},
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            code = getattr(exc, "code", None) or exc.http_status
            message = f"refund of {payment_intent_id} failed ({code}): {exc.user_message or exc}"
            if is_retryable(exc):
                raise RefundRetryableError(message) from exc
            raise RefundRefusedError(message) from exc
        return Refund(refund.id, int(refund.amount), str(refund.currency), refund.status)

    async def charge_refunds(self, charge_id: str) -> list[dict[str, Any]]:
        """The refunds of a charge (expanded: Stripe lists them only when asked), as dicts.

        RefundRetryableError when Stripe could not answer, RefundRefusedError when it said no.
        """
        try:
            charge = await self._client.v1.charges.retrieve_async(
                charge_id, params={"expand": ["refunds"]}
            )
        except stripe.StripeError as exc:
            message = f"reading the refunds of {charge_id} failed: {exc.user_message or exc}"
            if is_retryable(exc):
                raise RefundRetryableError(message) from exc
            raise RefundRefusedError(message) from exc
        listed = charge.to_dict().get("refunds") or {}
        return [dict(r) for r in listed.get("data", [])]

    async def retrieve_session(self, session_id: str) -> dict[str, Any]:
        """A Checkout Session as Stripe sees it now (the overdue look-up)."""
        try:
            session = await self._client.v1.checkout.sessions.retrieve_async(session_id)
        except stripe.StripeError as exc:
            raise PaymentGatewayError(f"retrieving {session_id} failed: {exc}") from exc
        return session.to_dict()

    async def expire_session(self, session_id: str) -> dict[str, Any]:
        """End an open session; a session no longer open is read instead (it ended meanwhile)."""
        try:
            # No idempotency key: expiring is safe to repeat (a session no longer open is
            # refused, then read), and Stripe would replay a stored 500 to every retry.
            session = await self._client.v1.checkout.sessions.expire_async(session_id)
        except stripe.InvalidRequestError:
            # Paid or expired in the meantime: Stripe refuses to expire it, its state is final.
            return await self.retrieve_session(session_id)
        except stripe.StripeError as exc:
            raise PaymentGatewayError(f"expiring {session_id} failed: {exc}") from exc
        return session.to_dict()

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
