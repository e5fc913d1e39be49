"""A producer that waits for acks=all within a bound, starts lazily and heals after an outage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from backbone.kafka._message import Headers
from backbone.kafka._partitioner import KeyPartitioner
from backbone.logging import get_logger
from backbone.settings import KafkaSettings

log = get_logger(__name__)


class BrokerUnavailable(RuntimeError):
    """The broker did not acknowledge in time, or could not be reached: nothing is known written."""


_RETRY_PAUSE_S = 0.1


def _unavailable(exc: BaseException) -> BrokerUnavailable:
    if isinstance(exc, BrokerUnavailable):
        return exc
    return BrokerUnavailable(f"broker did not acknowledge: {type(exc).__name__}")


@dataclass(frozen=True)
class Delivered:
    """Where an acknowledged record landed."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class OutgoingRecord:
    """One record to produce."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    headers: Headers = ()


class Producer:
    """Wraps AIOKafkaProducer with acks=all, a bounded wait per send, and restart on failure.

    The client is created on first use; when a send fails or times out the client is closed, so
    the next send starts a fresh one: a broker that comes back is picked up without a restart.
    """

    def __init__(self, settings: KafkaSettings, client_id: str | None = None) -> None:
        self._settings = settings
        self._client_id = client_id or settings.client_id
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    @property
    def settings(self) -> KafkaSettings:
        """The broker settings this producer was made with (for companions such as watchers)."""
        return self._settings

    async def start(self) -> None:
        """Connect now rather than on the first send (raises BrokerUnavailable)."""
        await self._ensure()

    async def stop(self) -> None:
        """Flush and close the client."""
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await asyncio.wait_for(producer.stop(), timeout=self._settings.send_timeout_s)
            except (TimeoutError, KafkaError, OSError):
                log.warning("producer.stop_incomplete")

    async def ping(self) -> bool:
        """Whether the broker answers a metadata request within the bound."""
        try:
            producer = await self._ensure()
            await asyncio.wait_for(
                producer.client.fetch_all_metadata(), timeout=self._settings.send_timeout_s
            )
        except (BrokerUnavailable, TimeoutError, KafkaError, OSError):
            return False
        return True

    async def send(
        self, topic: str, value: bytes | None, *, key: bytes | None = None, headers: Headers = ()
    ) -> Delivered:
        """Produce one record and wait for the broker's acknowledgement (acks=all)."""
        delivered = await self.send_many([OutgoingRecord(topic, value, key, headers)])
        return delivered[0]

    async def send_many(self, records: Iterable[OutgoingRecord]) -> list[Delivered]:
        """Produce records in order and wait for every acknowledgement within one bound.

        A broker error inside the bound (a broker just restarted answers its first produce with
        an error) is retried on a fresh client until the bound runs out. A retry after an
        ambiguous failure may write a record twice: consumers are idempotent by event id.
        """
        batch = list(records)
        deadline = time.monotonic() + self._settings.send_timeout_s
        while True:
            remaining = deadline - time.monotonic()
            try:
                return await asyncio.wait_for(self._send_once(batch), timeout=max(remaining, 0.01))
            except (TimeoutError, KafkaError, OSError, BrokerUnavailable) as exc:
                if time.monotonic() + _RETRY_PAUSE_S >= deadline:
                    raise _unavailable(exc) from exc
                log.info("producer.retrying", error=type(exc).__name__)
                await asyncio.sleep(_RETRY_PAUSE_S)

    async def _send_once(self, batch: list[OutgoingRecord]) -> list[Delivered]:
        producer = await self._ensure()
        try:
            futures = [
                await producer.send(r.topic, r.value, key=r.key, headers=list(r.headers))
                for r in batch
            ]
            metas = await asyncio.gather(*futures)
        except BaseException:
            # Not acknowledged in time or failed: what this client still holds must not reach
            # the broker after we reported the failure, and its state may be stale (a broker
            # restarted). Start a fresh client for the next send.
            await self._discard(producer)
            raise
        return [Delivered(m.topic, m.partition, m.offset) for m in metas]

    async def _ensure(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                self._producer = await self._connect()
            return self._producer

    async def _connect(self) -> AIOKafkaProducer:
        options: dict[str, Any] = self._settings.client_options()
        producer = AIOKafkaProducer(
            **options,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=self._settings.enable_idempotence,
            linger_ms=self._settings.linger_ms,
            max_batch_size=self._settings.max_batch_size,
            # Kafka's default rule (a key's murmur2 hash), without aiokafka's byte-by-byte hash.
            partitioner=KeyPartitioner(),
            # Retries of one batch inside the client stay within our own bound per send.
            retry_backoff_ms=100,
        )
        try:
            await asyncio.wait_for(producer.start(), timeout=self._settings.connect_timeout_s)
        except (TimeoutError, KafkaError, OSError) as exc:
            await _quietly_stop(producer)
            raise BrokerUnavailable(
                f"broker unreachable at {self._settings.bootstrap_servers}: {type(exc).__name__}"
            ) from exc
        return producer

    async def _discard(self, producer: AIOKafkaProducer) -> None:
        async with self._lock:
            if self._producer is producer:
                self._producer = None
        await _quietly_stop(producer)


async def _quietly_stop(producer: AIOKafkaProducer) -> None:
    """Close a client we gave up on, dropping what it still holds.

    Records still waiting in its accumulator were reported as failed to our caller, so they must
    not reach the broker later from a half-closed client: fail them before closing.
    """
    accumulator = getattr(producer, "_message_accumulator", None)
    if accumulator is not None:
        accumulator.fail_all(BrokerUnavailable("producer discarded"))
    try:
        await asyncio.wait_for(producer.stop(), timeout=2.0)
    except (TimeoutError, KafkaError, OSError):
        pass
    except Exception:
        log.debug("producer.stop_failed", exc_info=True)
