"""Batches for a Faust agent: what has arrived by the time the last batch is done, handled together.

A transaction per event spends most of its time on fixed costs (a pool checkout, a commit, one
round trip per statement). Under load the events waiting behind the current one are handled as
one batch (backbone.kafka.processor: one try for the batch, then halves if it fails), so
the fixed costs are shared. Batching is natural, not timed: the next batch is whatever arrived
meanwhile, up to `max_size`, so an idle agent still handles a lone event at once (no linger).
Events are acknowledged only once their batch is handled or dead-lettered, in the order they
arrived, so Faust commits exactly what the one-at-a-time loop would have committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

DEFAULT_MAX_SIZE = 200


async def run_batches(
    stream: Any,
    handle: Callable[[list[Any]], Awaitable[None]],
    *,
    max_size: int = DEFAULT_MAX_SIZE,
) -> None:
    """Feed `stream`'s events to `handle` in batches of at most `max_size` until the agent stops.

    At most `max_size` events are read ahead of the batch being handled. A failure of `handle`
    ends the agent and leaves the batch unacknowledged, hence uncommitted: never acknowledge on
    the way out of a cancelled handler, so the next owner of the partitions gets the events.
    """
    if max_size < 1:
        raise ValueError("max_size must be at least 1")
    manual = stream.noack()  # acknowledged here, once each batch is done
    queue: asyncio.Queue[Any] = asyncio.Queue(max_size)

    async def drain() -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < max_size and not queue.empty():
                batch.append(queue.get_nowait())
            await handle(batch)
            for event in batch:
                await manual.ack(event)

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(drain(), name="batches")
        async for event in manual.events():
            await queue.put(event)
