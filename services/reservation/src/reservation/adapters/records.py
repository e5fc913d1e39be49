"""The worker's records (an adapter, Kafka to signals): what arrived on stripe.events,
checkout.sessions or the group's retry topic, decoded into the signals the payment service
applies.

Kafka stops here: the topic a record came from, its headers and its bytes are read in this
module, and the service layer (service_layer.messages for what an event means,
service_layer.payments for what it changes) sees parsed events and signals only. A record no
retry can make sense of raises PermanentError (backbone's agent dead-letters it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import ValidationError

from backbone.kafka import BatchHandler, Message, PermanentError
from contracts import headers as h
from contracts.checkout import CHECKOUT_SESSION_CREATED_V1, CheckoutSessionCreatedV1
from contracts.stripe import parse_stripe_event
from contracts.topics import CHECKOUT_SESSIONS, STRIPE_EVENTS
from reservation.service_layer.messages import checkout_signal, stripe_signal
from reservation.service_layer.payments import PaymentService, Signal, Unhandled


def make_handler(
    service: PaymentService, *, on_applied: Callable[[], None] | None = None
) -> BatchHandler:
    """The batch handler for backbone's resilient agent (a single message is a batch of one):
    raise to retry (a batch is then split), PermanentError to dead-letter. One transaction.

    `on_applied` runs after a batch that acted on something committed (the worker wakes its
    refund executor with it: the batch may have recorded a refund to carry out)."""

    async def handle_batch(messages: Sequence[Message]) -> None:
        signals = [decode(message) for message in messages]
        await service.apply(signals)
        if on_applied is not None and not all(isinstance(x, Unhandled) for x in signals):
            on_applied()

    return handle_batch


def decode(message: Message) -> Signal:
    """What a record says, or PermanentError for one that no retry can make sense of."""
    if message.value is None:
        raise PermanentError("a message without a value")
    # A replay from <group>.retry arrives on the retry topic without the dead-letter
    # headers; its original headers (event type, Stripe event id) still say what it is.
    origin = message.header(h.DLQ_ORIGINAL_TOPIC) or message.topic
    if origin == CHECKOUT_SESSIONS or message.header(h.EVENT_TYPE) == (CHECKOUT_SESSION_CREATED_V1):
        return _checkout(message.value)
    if origin == STRIPE_EVENTS or message.header(h.STRIPE_EVENT_ID):
        return _stripe(message.value, message.header(h.CORRELATION_ID))
    raise PermanentError(f"no handler for a record from {origin}")


def _checkout(value: bytes) -> Signal:
    try:
        fact = CheckoutSessionCreatedV1.model_validate_json(value)
    except ValidationError as exc:
        raise PermanentError(f"malformed CheckoutSessionCreatedV1: {exc}") from exc
    return checkout_signal(fact)


def _stripe(value: bytes, correlation_id: str | None) -> Signal:
    try:
        event = parse_stripe_event(value)
    except ValidationError as exc:
        raise PermanentError(f"malformed Stripe event: {exc}") from exc
    try:
        return stripe_signal(event, correlation_id)
    except ValidationError as exc:
        raise PermanentError(f"malformed {event.type} object: {exc}") from exc
