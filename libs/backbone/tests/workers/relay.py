"""An outbox relay process for the kill-and-restart test.

Env: KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL, SOURCE.
"""

from __future__ import annotations

import asyncio
import os
import signal

from backbone.db import OutboxRelay, make_engine
from backbone.kafka import Producer
from backbone.logging import configure_logging
from backbone.settings import DatabaseSettings, KafkaSettings


async def main() -> None:
    configure_logging("relay")
    kafka = KafkaSettings()
    engine = make_engine(DatabaseSettings())
    producer = Producer(kafka)
    relay = OutboxRelay(engine, producer, kafka, source=os.environ["SOURCE"], batch_size=50)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, relay.stop)
    await relay.run()
    await producer.stop()
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
