"""`python -m checkout relay` publishes what the outbox holds, keyed by the session id."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from backbone.db import make_engine, session_factory
from backbone.settings import DatabaseSettings, KafkaSettings
from checkout.adapters.migrations import migrate
from checkout.adapters.unit_of_work import SqlCheckoutUnitOfWork
from contracts import headers as h
from contracts.topics import CHECKOUT_SESSIONS
from devstack.testing import ChildProcess, eventually, read_topic

pytestmark = pytest.mark.integration


async def test_relay_command_publishes_committed_rows(
    make_database: Callable[[str], str],
    kafka_settings: KafkaSettings,
    tmp_path: Path,
    unique: str,
) -> None:
    url = make_database("checkout")
    migrate(url)
    engine = make_engine(DatabaseSettings(url=SecretStr(url), pool_size=1, max_overflow=0))
    key = f"cs_test_{unique}"
    try:
        async with SqlCheckoutUnitOfWork(session_factory(engine)) as uow:
            uow.publish(CHECKOUT_SESSIONS, b'{"probe": true}', key.encode(), [(h.EVENT_ID, key)])
            await uow.commit()
    finally:
        await engine.dispose()
    relay = ChildProcess(
        ["-m", "checkout", "relay"],
        env={
            "DATABASE_URL": url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
            "CHECKOUT_RELAY_SOURCE": f"checkout-{unique}",
            "LOG_FORMAT": "json",
        },
        log_path=tmp_path / "relay.log",
    ).start()
    try:

        async def probe() -> list[object]:
            records = await read_topic(kafka_settings, CHECKOUT_SESSIONS)
            return [r for r in records if r.key == key.encode()]

        [record] = await eventually(probe, timeout=20, what=relay.output)
        assert record.header(h.EVENT_ID) == key  # type: ignore[attr-defined]
        outbox_id = record.header(h.OUTBOX_ID) or ""  # type: ignore[attr-defined]
        assert outbox_id.startswith(f"checkout-{unique}/1@")
    finally:
        relay.terminate()
