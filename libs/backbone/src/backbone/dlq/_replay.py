"""Replaying dead letters into `<group>.retry`: the original record plus replay headers, paced."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from backbone.dlq._reader import DeadLetter
from backbone.kafka import BrokerUnavailable, OutgoingRecord, Producer
from contracts import headers as h
from contracts.deadletter import without_dead_letter_headers
from contracts.topics import retry_topic

REPLAY_HEADERS = (h.REPLAY_ID, h.REPLAYED_AT, h.REPLAYED_BY)
# Without --rate, records go in batches this big, each awaited (acks=all) before the next.
BATCH = 500


@dataclass(frozen=True)
class ReplayStamp:
    """Who replays, when, under which id: the headers every replayed record carries."""

    replay_id: UUID
    replayed_at: datetime
    operator: str

    def headers(self) -> list[tuple[str, bytes]]:
        """The replay headers, UTF-8."""
        return [
            (h.REPLAY_ID, str(self.replay_id).encode()),
            (h.REPLAYED_AT, self.replayed_at.isoformat().encode()),
            (h.REPLAYED_BY, self.operator.encode()),
        ]


def replay_record(entry: DeadLetter, group: str, stamp: ReplayStamp) -> OutgoingRecord:
    """Key and value untouched; original headers in order, minus the DLQ set, plus replay ones.

    Replay headers of an earlier replay are dropped too: a record replayed, failed and replayed
    again carries one unambiguous set, the latest.
    """
    kept = [
        (name, value if value is not None else b"")
        for name, value in without_dead_letter_headers(entry.message.headers)
        if name not in REPLAY_HEADERS
    ]
    return OutgoingRecord(
        retry_topic(group), entry.message.value, entry.message.key, (*kept, *stamp.headers())
    )


class ReplayInterrupted(Exception):
    """The broker failed part-way: `sent` records were acknowledged before it did."""

    def __init__(self, sent: int, cause: BrokerUnavailable) -> None:
        super().__init__(str(cause))
        self.sent = sent


async def send_paced(
    producer: Producer,
    records: Sequence[OutgoingRecord],
    *,
    rate: float | None = None,
    progress: Callable[[int], None] = lambda _: None,
) -> int:
    """Send `records` in order, at most `rate` per second; returns how many were acknowledged.

    Each chunk is acknowledged (acks=all) before the next goes, so `sent` is exact if the broker
    fails part-way (ReplayInterrupted).
    """
    chunk = BATCH if rate is None else max(1, min(BATCH, int(rate // 10)))
    started = time.monotonic()
    sent = 0
    while sent < len(records):
        part = records[sent : sent + chunk]
        try:
            await producer.send_many(part)
        except BrokerUnavailable as exc:
            raise ReplayInterrupted(sent, exc) from exc
        sent += len(part)
        progress(len(part))
        if rate is not None and sent < len(records):
            # Pace against the start, not per chunk, so slow acks are not paid for twice.
            ahead = started + sent / rate - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
    return sent
