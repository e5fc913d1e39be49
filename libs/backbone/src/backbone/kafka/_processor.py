"""Records start to finish: a batch tried whole, then in halves, then single records with
retries and the dead-letter topic; the Faust agent (backbone.faust) runs every batch through it."""

from __future__ import annotations

import time
from collections.abc import Sequence

from backbone import metrics
from backbone.kafka._deadletter import DeadLetterWriter
from backbone.kafka._failures import classify
from backbone.kafka._message import BatchHandler, Message
from backbone.kafka._retry import handle_with_retries
from backbone.kafka._waiting import TransientWait
from backbone.logging import bound_ids, get_logger
from backbone.settings import RetrySettings
from contracts import headers as h

log = get_logger(__name__)


class MessageProcessor:
    """Gives messages to the batch handler and returns only once each is handled or
    dead-lettered.

    Callers acknowledge (commit) after `process_batch` returns, never before: that is the whole
    at-least-once contract, and the reason it swallows every handler failure.
    """

    def __init__(
        self,
        group: str,
        handler: BatchHandler,
        retry: RetrySettings,
        dead_letters: DeadLetterWriter,
    ) -> None:
        self.group = group
        self._handler = handler
        self._retry = retry
        self._dead_letters = dead_letters

    async def process_batch(self, messages: Sequence[Message]) -> list[bool]:
        """Handle `messages` together in one try of the batch handler (all or nothing, as one
        transaction); if that try fails, each half the same way, down to single messages, which
        go through `process` (retries, then the dead-letter topic). In order throughout. True
        per message handled, False per message dead-lettered.

        So one bad message costs a few tries of ever smaller batches, not the batch's speed; the
        handler must be idempotent per message (an inbox), since a failed try is done again.
        An outage (a transient failure, backbone.kafka.classify) does not split the batch: the
        whole batch is tried again, in order, until the dependency is back.
        """
        if len(messages) < 2:
            return [await self.process(m) for m in messages]
        wait: TransientWait | None = None
        try:
            while True:
                try:
                    return await self._try_batch(messages)
                except Exception as exc:
                    failure = classify(exc)
                    if not failure.transient:
                        break
                    wait = wait or TransientWait(self.group, self._retry)
                    await wait.pause(failure, exc)
        finally:
            if wait is not None:
                wait.end()
        # A failure that is not an outage: one bad message (or a conflict) must not hold the
        # others back.
        half = len(messages) // 2
        return [
            *await self.process_batch(messages[:half]),
            *await self.process_batch(messages[half:]),
        ]

    async def _try_batch(self, messages: Sequence[Message]) -> list[bool]:
        """One try of the batch handler; its failure is raised, logged unless an outage."""
        started = time.perf_counter()
        try:
            await self._handler(messages)
        except Exception as exc:
            if not classify(exc).transient:
                metrics.BATCH_FALLBACKS.labels(self.group).inc()
                log.warning(
                    "batch.failed_splitting",
                    size=len(messages),
                    error_class=type(exc).__name__,
                    error=str(exc)[:500],
                )
            raise
        elapsed = time.perf_counter() - started
        metrics.BATCH_SIZE.labels(self.group).observe(len(messages))
        for message in messages:
            metrics.MESSAGES_PROCESSED.labels(self.group, message.topic, "handled").inc()
            # Each message of the batch took as long as the batch to finish.
            metrics.HANDLE_SECONDS.labels(self.group, message.topic).observe(elapsed)
        return [True] * len(messages)

    async def process(self, message: Message) -> bool:
        """Handle `message` (a batch of one); True if handled, False if it was dead-lettered."""
        started = time.perf_counter()
        with bound_ids(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            event_id=message.header(h.EVENT_ID) or message.header(h.STRIPE_EVENT_ID),
            event_type=message.header(h.EVENT_TYPE) or message.header(h.STRIPE_EVENT_TYPE),
            correlation_id=message.header(h.CORRELATION_ID),
        ):
            outcome = await handle_with_retries(
                self._handler, message, self._retry, owner=self.group
            )
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
