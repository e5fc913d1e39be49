"""The running worker's sweep deletes inbox rows past the retention (PRUNE_*); recent ones stay,
so reconcile still sees every event of Stripe's 30-day history as delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from devstack.testing import ChildProcess, eventually
from reservation.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _left(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT event_id FROM inbox WHERE consumer = 'test'")}


async def test_worker_sweep_prunes_old_inbox_rows(settings: Settings, tmp_path: Path) -> None:
    url = settings.database.url.get_secret_value()
    now = datetime.now(UTC)
    with psycopg.connect(url) as conn:
        for event_id, days in {"evt_old": 60, "evt_past": 46, "evt_recent": 31}.items():
            conn.execute(
                "INSERT INTO inbox (consumer, event_id, processed_at) VALUES ('test', %s, %s)",
                (event_id, now - timedelta(days=days)),
            )
    env = {
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "KAFKA_SESSION_TIMEOUT_MS": "3000",
        "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        # Migrated by the fixture; development, as the emulator is (a production process
        # refuses the emulator's URL: backbone.safety).
        "RESERVATION_ENVIRONMENT": "development",
        "RESERVATION_MIGRATE_ON_START": "false",
        "RESERVATION_SEED_CATALOG": "false",
        "RESERVATION_CONSUMER_GROUP": settings.consumer_group,
        "RESERVATION_DATA_DIR": str(settings.data_dir),
        "RESERVATION_SWEEP_INTERVAL_S": "0.5",
        "STRIPE_API_BASE": settings.stripe.api_base,
        "STRIPE_API_KEY": settings.stripe.api_key.get_secret_value(),
        "LOG_FORMAT": "json",
    }
    worker = ChildProcess(
        ["-m", "reservation", "worker", "--without-web"], env=env, log_path=tmp_path / "w.log"
    ).start()
    try:

        async def pruned() -> bool:
            return _left(url) == {"evt_recent"}

        await eventually(pruned, timeout=90, what=lambda: f"pruned\n{worker.output()[-3000:]}")
    finally:
        worker.terminate()
