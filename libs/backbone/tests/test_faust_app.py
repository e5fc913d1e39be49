"""The Faust app factory: our fetch wait reaches the consumer Faust builds (Faust hard-codes
1,500 ms, which on the embedded broker delays delivery by up to that much; see BackboneApp)."""

from __future__ import annotations

from pathlib import Path

from backbone.faust import create_faust_app
from backbone.settings import KafkaSettings


async def test_the_worker_consumer_uses_the_configured_fetch_wait(tmp_path: Path) -> None:
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:9", fetch_max_wait_ms=77)
    app = create_faust_app("fetch-wait-test", kafka, datadir=str(tmp_path))
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        # Not started (no broker needed): aiokafka hands this value to its fetcher on start.
        assert consumer._fetch_max_wait_ms == 77
        assert consumer._group_id == "fetch-wait-test"
    finally:
        await consumer.stop()
