"""Topic creation at start-up, with the partition counts of the contracts registry."""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from backbone.logging import get_logger
from backbone.settings import KafkaSettings
from contracts.topics import all_topic_partitions

log = get_logger(__name__)


async def ensure_topics(
    settings: KafkaSettings, topics: dict[str, int] | None = None, *, timeout_s: float = 30.0
) -> dict[str, int]:
    """Create every registry topic that is missing; returns what was asked for.

    Retried until `timeout_s`, as a broker that was just started may not answer yet.
    """
    wanted = topics if topics is not None else all_topic_partitions()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await _create_missing(settings, wanted)
        except (KafkaError, OSError) as exc:
            if time.monotonic() > deadline:
                raise
            log.info("topics.broker_not_ready", error=type(exc).__name__)
            await asyncio.sleep(0.5)
        else:
            return wanted


async def _create_missing(settings: KafkaSettings, wanted: dict[str, int]) -> None:
    admin = AIOKafkaAdminClient(**settings.client_options(), client_id="topic-setup")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name=name, num_partitions=partitions, replication_factor=1)
            for name, partitions in wanted.items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
            log.info("topics.created", topics=[t.name for t in missing])
    finally:
        await admin.close()


def main() -> None:
    """`python -m backbone.kafka.admin`: create the topics (the compose init step runs this)."""
    from backbone.logging import configure_logging

    configure_logging("topic-setup")
    created = asyncio.run(ensure_topics(KafkaSettings()))
    log.info("topics.ready", count=len(created))


if __name__ == "__main__":
    main()
