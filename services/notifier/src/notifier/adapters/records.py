"""Kafka records of reservation.events (and of the group's retry topic) in, facts out: the
decoding the worker does before the service layer sees anything."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from backbone.kafka import Message, PermanentError
from contracts.reservation import ReservationFact, UnknownFactTypeError, parse_fact
from notifier.domain.model import UnknownFact
from notifier.service_layer.handlers import NotifyHandler


def read_fact(message: Message) -> ReservationFact | UnknownFact:
    """The fact in `message`, or an UnknownFact for a type we do not know (not counted here);
    PermanentError if malformed."""
    if message.value is None:
        raise PermanentError("empty value on the facts topic")
    try:
        return parse_fact(message.value)
    except UnknownFactTypeError as exc:
        # A newer fact published beside the ones we know: not ours to e-mail about (yet).
        return UnknownFact(exc.event_type)
    except (ValidationError, ValueError) as exc:
        raise PermanentError(f"malformed reservation fact: {exc}") from exc


def decode(message: Message) -> ReservationFact | None:
    """The fact in `message`; None for a type we do not know; PermanentError if malformed."""
    fact = read_fact(message)
    return None if isinstance(fact, UnknownFact) else fact


class FactRecords:
    """The resilient agent's batch handler (`handle_batch`; a single record is a batch of one):
    decode every record, then hand the facts to the NotifyHandler. A malformed record raises
    PermanentError before anything of its batch is claimed or sent."""

    def __init__(self, handler: NotifyHandler) -> None:
        self.handler = handler

    async def handle_batch(self, messages: Sequence[Message]) -> None:
        """Handle records of reservation.events (or of the retry topic) together, in order."""
        await self.handler.handle_batch([read_fact(message) for message in messages])
