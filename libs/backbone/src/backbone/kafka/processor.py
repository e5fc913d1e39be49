"""One message start to finish: retries, then the dead-letter topic; for aiokafka and Faust."""

from __future__ import annotations

import time

from backbone import metrics
from backbone.kafka.deadletter import DeadLetterWriter
from backbone.kafka.message import Message
from backbone.kafka.retry import Handler, handle_with_retries
from backbone.logging import bound_ids, get_logger
from backbone.settings import RetrySettings
from contracts import headers as h

log = get_logger(__name__)


class MessageProcessor:
    """Gives a message to the handler and returns only once it is handled or dead-lettered.

    Callers commit the offset after `process` returns, never before: that is the whole
    at-least-once contract, and the reason `process` swallows every handler failure.
    """

    def __init__(
        self, group: str, handler: Handler, retry: RetrySettings, dead_letters: DeadLetterWriter
    ) -> None:
        self.group = group
        self._handler = handler
        self._retry = retry
        self._dead_letters = dead_letters

    async def process(self, message: Message) -> bool:
        """Handle `message`; True if handled, False if it was dead-lettered."""
        started = time.perf_counter()
        with bound_ids(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            event_id=message.header(h.EVENT_ID) or message.header(h.STRIPE_EVENT_ID),
            event_type=message.header(h.EVENT_TYPE) or message.header(h.STRIPE_EVENT_TYPE),
            correlation_id=message.header(h.CORRELATION_ID),
        ):
            outcome = await handle_with_retries(self._handler, message, self._retry)
            if outcome.attempts > 1:
                metrics.MESSAGE_RETRIES.labels(self.group, message.topic).inc(outcome.attempts - 1)
            if outcome.error is not None:
                await self._dead_letters.write(message, outcome.error, outcome.attempts)
            result = "handled" if outcome.succeeded else "dead_lettered"
            metrics.MESSAGES_PROCESSED.labels(self.group, message.topic, result).inc()
            metrics.HANDLE_SECONDS.labels(self.group, message.topic).observe(
                time.perf_counter() - started
            )
            return outcome.succeeded
