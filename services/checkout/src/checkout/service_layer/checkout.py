"""Create a Checkout Session for server-priced items, once per user and items; read one back.

Order of things, and why:
1. Validate and price: reservations by the reservation service (with the caller's token), beats
   from our catalog. Nothing the client sends is a price.
2. Reuse: the same user and items with a session still open at Stripe answer that session, so a
   double click or a retried request never opens a second one (and publishes nothing new).
3. Store the Stripe request first (deterministic Idempotency-Key of user, items, prices and
   generation, and the exact parameters, expires_at included: see attempts.py), then send it. A
   concurrent duplicate, or a retry after an answer lost on the way, sends exactly the same
   request and gets the same session; a key Stripe spent (a replayed 5xx) moves to the next
   generation within the same request.
4. Record the session and its CheckoutSessionCreatedV1 outbox row in one transaction; the relay
   publishes it. A session Stripe made whose recording failed is answered again by Stripe on the
   client's retry (same key, same parameters) and recorded then; nothing is recorded for a
   session not created. The same transaction marks the user's older open sessions of the same
   reservations, which are then expired at Stripe (supersede.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from backbone.logging import bound_ids, get_logger
from checkout.domain.expiry import session_expiry
from checkout.domain.model import (
    Beat,
    Order,
    OrderError,
    PricedReservation,
    check_fits_metadata,
    unique_ids,
)
from checkout.domain.sessions import CheckoutSession
from checkout.service_layer import attempts
from checkout.service_layer.errors import (
    CartItemNotFound,
    CheckoutInProgress,
    EmailRequired,
    SessionNotFound,
    StripeIdempotencyConflict,
    StripeRefused,
    StripeUnavailable,
)
from checkout.service_layer.facts import session_created
from checkout.service_layer.ports import (
    CheckoutMetrics,
    CheckoutPolicy,
    CheckoutRequest,
    CheckoutResult,
    PaymentGateway,
    ReservationSource,
    StripeSession,
)
from checkout.service_layer.status_cache import StatusCache
from checkout.service_layer.supersede import Superseder
from checkout.service_layer.unit_of_work import CheckoutUnitOfWork

__all__ = ["CheckoutPolicy", "CheckoutRequest", "CheckoutResult", "CheckoutService"]

log = get_logger(__name__)

# A recorded session this close to its expiry is not handed out again: the user could not pay.
_REUSE_MARGIN = timedelta(minutes=2)
# How long a request waits for a concurrent twin to record the session it is creating.
_CONCURRENT_WAIT_S = 5.0
# Key generations one request may spend (a stored 5xx, a resent attempt Stripe refuses or whose
# session ended): enough to get past one spent key, bounded so a broken Stripe is not hammered.
_KEYS_PER_REQUEST = 3


@dataclass
class CheckoutService:
    """The create and read use cases, over injected ports (service_layer/ports.py)."""

    uow: Callable[[], CheckoutUnitOfWork]
    reservations: ReservationSource
    stripe: PaymentGateway
    policy: CheckoutPolicy
    superseder: Superseder
    metrics: CheckoutMetrics
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _status: StatusCache = field(init=False)

    def __post_init__(self) -> None:
        self._status = StatusCache(self.policy.status_ttl.total_seconds())

    async def create(self, request: CheckoutRequest) -> CheckoutResult:
        """The session for the caller's items, created at Stripe unless an open one exists."""
        order = await self._price(request)
        with bound_ids(user_id=order.user_id, checkout_type=order.checkout_type):
            failure: StripeUnavailable | None = None
            for _ in range(_KEYS_PER_REQUEST):
                now = self.clock()
                async with self.uow() as uow:
                    previous = await uow.repo.for_items(order.user_id, order.fingerprint)
                    latest = await uow.repo.latest_attempt(order.user_id, order.fingerprint)
                reused = await self._reusable(previous, order, now)
                if reused is not None:
                    self.metrics.session_answered(order.checkout_type, "reused")
                    log.info(
                        "checkout.session_reused",
                        session_id=reused.session_id,
                        correlation_id=reused.session_id,
                    )
                    return CheckoutResult(reused, created=False)
                resent = attempts.resendable(latest, order)
                if resent:
                    assert latest is not None
                    attempt = latest
                else:
                    fresh = self._fresh_params(order, now)
                    attempt = await attempts.store(
                        self.uow, order, fresh, previous=previous, latest=latest, now=now
                    )
                try:
                    session = await self.stripe.create_session(
                        attempt.params, attempt.idempotency_key
                    )
                except StripeIdempotencyConflict as exc:
                    if exc.in_use:
                        return await self._await_twin(order, attempt.generation)
                    await attempts.close(self.uow, attempt, attempts.BURNED, self.clock())
                    continue
                except StripeUnavailable as exc:
                    if not exc.replayed:
                        # No answer, or a 5xx Stripe did not store: it may have made the session.
                        # The attempt stays pending; the client's retry resends it unchanged.
                        raise
                    # Stripe replays a stored 5xx to every retry with this key: a new key now.
                    await attempts.close(self.uow, attempt, attempts.BURNED, self.clock())
                    failure = exc
                    continue
                except StripeRefused:
                    await attempts.close(self.uow, attempt, attempts.REFUSED, self.clock())
                    if resent:
                        continue  # an old attempt's parameters (a past expires_at): fresh ones
                    raise
                if session.status != "open":
                    # A resent attempt whose session ended meanwhile (replayed by Stripe).
                    await attempts.close(
                        self.uow, attempt, attempts.ENDED, self.clock(), session_id=session.id
                    )
                    continue
                row = attempts.session_row(
                    order, session=session, attempt=attempt, request_id=request.request_id
                )
                with bound_ids(session_id=session.id, correlation_id=session.id):
                    result = await self._record(order, row, request.request_id, session.created)
                if session.expires_at > now + _REUSE_MARGIN:
                    return result
                # Too close to its end to pay: recorded (and superseded by the next one).
            raise failure or StripeUnavailable(
                "server_error", "no payment page could be opened right now"
            )

    async def quote(self, request: CheckoutRequest) -> Order:
        """What `create` would charge for these items now, priced the same way; creates nothing."""
        return await self._price(request, require_email=False)

    async def beats(self) -> list[Beat]:
        """The beats on sale."""
        async with self.uow() as uow:
            return await uow.repo.active_beats()

    async def get(self, user_id: str, session_id: str) -> CheckoutSession:
        """The caller's session with Stripe's latest status (the recorded one if Stripe is down)."""
        async with self.uow() as uow:
            row = await uow.repo.get(session_id)
        if row is None or row.user_id != user_id:
            raise SessionNotFound(session_id)
        if row.status == "open" and self._status.due(session_id):
            try:
                await self._refresh(row, await self.stripe.retrieve_session(session_id))
            except StripeUnavailable:
                log.warning("checkout.status_from_record", session_id=session_id)
        return row

    async def _price(self, request: CheckoutRequest, *, require_email: bool = True) -> Order:
        reservation_ids = unique_ids(request.reservation_ids)
        cart_ids = unique_ids(request.cart_item_ids)
        if not reservation_ids and not cart_ids:
            raise OrderError(
                "empty_order", "name at least one reservation or cart item", field="body"
            )
        # Before asking anyone: an order whose ids cannot reach Stripe is refused as it is.
        check_fits_metadata(reservation_ids, cart_ids)
        email = request.user_email
        if not email and require_email:
            raise EmailRequired("no e-mail in the token claims nor in the request")
        reservations: list[PricedReservation] = []
        if reservation_ids:
            reservations = await self.reservations.payable(
                reservation_ids, request.token, request.request_id
            )
        async with self.uow() as uow:
            beats = await uow.repo.beats(cart_ids) if cart_ids else {}
        for item_id in cart_ids:
            if item_id not in beats:
                raise CartItemNotFound(item_id)
        return Order.build(request.user_id, email or "", reservations, list(beats.values()))

    async def _reusable(
        self, previous: list[CheckoutSession], order: Order, now: datetime
    ) -> CheckoutSession | None:
        """The newest session of these items if it is open at Stripe for the same prices."""
        if not previous:
            return None
        newest = previous[0]
        same_terms = newest.idempotency_key == order.idempotency_key(newest.generation)
        if newest.status != "open" or newest.expires_at <= now + _REUSE_MARGIN or not same_terms:
            return None
        if newest.expire_pending or newest.superseded_by:
            return None
        await self._refresh(newest, await self.stripe.retrieve_session(newest.session_id))
        return newest if newest.status == "open" else None

    async def _refresh(self, row: CheckoutSession, live: StripeSession) -> None:
        if (live.status, live.payment_status) == (row.status, row.payment_status):
            return
        row.status, row.payment_status = live.status, live.payment_status
        async with self.uow() as uow:
            await uow.repo.set_status(
                row.session_id, live.status, live.payment_status, self.clock()
            )
            await uow.commit()

    async def _record(
        self,
        order: Order,
        row: CheckoutSession,
        request_id: str | None,
        stripe_created: datetime,
    ) -> CheckoutResult:
        fact = session_created(
            order, row, request_id, event_id=uuid.uuid4(), stripe_created=stripe_created
        )
        now = self.clock()
        superseded: list[str] = []
        async with self.uow() as uow:
            added = await uow.repo.add_session(row)
            if added:
                uow.publish(*fact)
                superseded = await uow.repo.supersede(row, now)
            await uow.repo.set_attempt_state(
                row.idempotency_key, attempts.CREATED, now, row.session_id
            )
            await uow.commit()
        # After the commit, never under a row lock: the older sessions of these reservations.
        self.superseder.soon(row.session_id, superseded)
        if not added:
            # A concurrent twin got the same session from Stripe and recorded it (and its fact).
            async with self.uow() as uow:
                recorded = await uow.repo.get(row.session_id)
            assert recorded is not None
            row = recorded
        self.metrics.session_answered(order.checkout_type, "created" if added else "replayed")
        log.info("checkout.session_created", created=added, order_total=order.order_total)
        return CheckoutResult(row, created=added)

    async def _await_twin(self, order: Order, generation: int) -> CheckoutResult:
        """Stripe says a concurrent request holds the key: answer its session once recorded."""
        deadline = time.monotonic() + _CONCURRENT_WAIT_S
        while time.monotonic() < deadline:
            async with self.uow() as uow:
                rows = await uow.repo.for_items(order.user_id, order.fingerprint)
            for row in rows:
                if row.generation == generation:
                    return CheckoutResult(row, created=False)
            await asyncio.sleep(0.1)
        raise CheckoutInProgress("a checkout for these items is being created: retry shortly")

    def _fresh_params(self, order: Order, now: datetime) -> attempts.Fresh:
        expiry = session_expiry(
            now,
            order.hold_ends_at,
            min_lifetime=self.policy.min_lifetime,
            beats_lifetime=self.policy.beats_lifetime,
        )
        urls = attempts.Urls(self.policy.success_url, self.policy.cancel_url)
        return attempts.Fresh(attempts.session_params(order, expiry, urls), expiry)
