"""Publishing verified events: one produce call per batch of webhooks, one answer per event.

Under load, hundreds of webhooks are verified in one turn of the event loop. Each gets a future;
the first schedules a flush `linger_s` later, brought forward to the end of the turn once
`flush_at` records wait (at once when `linger_s` is 0), which hands every record that came
meanwhile to the shared producer in one `send_many` (one task, one bound) and settles each future
with its outcome. That costs one task per flush instead of several tasks and futures per webhook
(the profile's largest item after HTTP itself), while each webhook is still answered 200 only once
the broker acknowledged its record (acks=all): a batch succeeds only when every record in it was
acknowledged, and a batch that fails or passes the bound fails every record in it (503, Stripe
retries; a record may then be on the topic twice, consumers deduplicate by event id). The bound is
one timer per batch too: at `timeout_s` every record still waiting fails with TimeoutError, while
the producer finishes or fails in the background (its own timeout discards a stuck client).

`in_flight` counts the records handed over and not yet settled, including those whose webhook
was already answered 503 at the bound while the producer finishes or fails in the background:
the ingest sheds new webhooks while it is at its maximum.

The linger is for the broker: at a few hundred webhooks a second each turn holds one or two, and
their records went out one produce request each (per partition, as aiokafka lingers a batch per
partition from its own first record). Handed over together, the records of a few milliseconds
share one request: fewer requests for the broker to answer, for a wait that is a small part of
a webhook's answer. Once `flush_at` wait, a request is worth sending: they go at the end of the
turn, so that under load (many webhooks a turn) the linger adds no wait.
"""

from __future__ import annotations

import asyncio
from functools import partial

from backbone.kafka import BrokerUnavailable, OutgoingRecord, Producer


class Publisher:
    """Records of a linger (of a turn, under load) produced together; a future per record."""

    def __init__(
        self,
        producer: Producer,
        topic: str,
        timeout_s: float,
        linger_s: float = 0.0,
        flush_at: int = 16,
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.timeout_s = timeout_s
        self.linger_s = linger_s
        self.flush_at = flush_at
        self.in_flight = 0
        self._linger: asyncio.TimerHandle | None = None
        self._records: list[OutgoingRecord] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._batches: set[asyncio.Task[object]] = set()

    def publish(
        self, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[None]:
        """A future that resolves once the broker acknowledged the record, or raises why not
        (TimeoutError past the bound, BrokerUnavailable, or what the producer raised).

        Cancelling it (the caller stopped waiting) does not withdraw the record.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        if not self._records:
            if self.linger_s > 0:
                self._linger = loop.call_later(self.linger_s, self._flush)
            else:
                loop.call_soon(self._flush)
        self._records.append(OutgoingRecord(self.topic, value, key, headers))
        self._waiters.append(waiter)
        self.in_flight += 1
        if self._linger is not None and len(self._records) == self.flush_at:
            self._linger.cancel()  # enough for a request: at the end of this turn
            self._linger = None
            loop.call_soon(self._flush)
        return waiter

    def _flush(self) -> None:
        self._linger = None
        records, waiters = self._records, self._waiters
        self._records, self._waiters = [], []
        batch = asyncio.ensure_future(self.producer.send_many(records))
        self._batches.add(batch)
        bound = asyncio.get_running_loop().call_later(self.timeout_s, _expire, waiters)
        batch.add_done_callback(partial(self._settle, waiters, bound))

    def _settle(
        self,
        waiters: list[asyncio.Future[None]],
        bound: asyncio.TimerHandle,
        batch: asyncio.Future[object],
    ) -> None:
        bound.cancel()
        self._batches.discard(batch)
        self.in_flight -= len(waiters)
        error: BaseException | None = (
            BrokerUnavailable("publishing stopped") if batch.cancelled() else batch.exception()
        )
        for waiter in waiters:
            if waiter.done():  # its webhook was answered at the bound already
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)


def _expire(waiters: list[asyncio.Future[None]]) -> None:
    """The bound passed: whoever still waits is told so (the batch goes on in the background)."""
    for waiter in waiters:
        if not waiter.done():
            waiter.set_exception(TimeoutError("not acknowledged within the bound"))
