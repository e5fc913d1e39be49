"""The Faust app factory: our fetch wait reaches the consumer Faust builds (Faust hard-codes
1,500 ms, which on the embedded broker delays delivery by up to that much; see BackboneApp), an
idle consumer's wait grows to the idle wait until records arrive (FetchWait), and a partition
whose log no longer reaches the group's position is read again from its start (LostLogGuard)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.consumer.fetcher import OffsetResetStrategy

from backbone.faust import FetchWait, LostLogGuard, create_faust_app
from backbone.kafka import Message, Producer
from backbone.settings import KafkaSettings, RetrySettings
from devstack.testing import eventually

from .support import faust_consumer, group_topics


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


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_fetch_wait_is_short_while_records_flow_and_long_once_idle() -> None:
    clock = _Clock()
    wait = FetchWait(busy_ms=100, idle_ms=500, idle_after_s=2.0, clock=clock)
    assert wait.current_ms == 100
    clock.now += 1.9
    assert wait.observed(False) == 100  # quiet, not yet for idle_after_s
    clock.now += 0.1
    assert wait.observed(False) == 500
    clock.now += 60
    assert wait.observed(False) == 500
    assert wait.observed(True) == 100  # the first fetch with records ends the idle spell
    clock.now += 1.0
    assert wait.observed(False) == 100
    # An idle wait set shorter than the busy one never makes an idle consumer fetch more often.
    assert FetchWait(busy_ms=300, idle_ms=100, idle_after_s=0, clock=clock).observed(False) == 300


@pytest.mark.integration
async def test_an_idle_worker_fetches_with_the_long_wait_until_records_arrive(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    group, topic = f"g-{unique}", f"t-{unique}"
    await group_topics(kafka_settings, group, topic)
    kafka = kafka_settings.model_copy(
        update={"fetch_max_wait_ms": 20, "idle_fetch_max_wait_ms": 400, "idle_fetch_after_ms": 1500}
    )
    apps: list[faust.App] = []
    received: list[tuple[bytes | None, int | None]] = []

    async def handler(messages: Sequence[Message]) -> None:
        wait = _fetch_wait(apps[0])
        received.extend((m.value, wait) for m in messages)

    async with faust_consumer(kafka, group, [topic], handler, retry=RetrySettings()) as app:
        apps.append(app)

        async def idle() -> bool:
            return _fetch_wait(app) == 400

        async def delivered() -> bool:
            return bool(received)

        await eventually(idle, what="the idle fetch wait")
        producer = Producer(kafka)
        try:
            await producer.send(topic, b"after a quiet spell", key=b"k")
        finally:
            await producer.stop()
        await eventually(delivered, what="delivery")
    # The fetch that brought the record set the short wait back before the handler ran.
    assert received == [(b"after a quiet spell", 20)]


class _State:
    """What aiokafka's fetcher keeps per assigned partition, as far as the guard reads it."""

    def __init__(self, position: int, highwater: int | None) -> None:
        self.position: int | None = position
        self.highwater = highwater
        self.awaiting_reset = False

    @property
    def has_valid_position(self) -> bool:
        return self.position is not None

    def await_reset(self, strategy: int) -> None:
        self.position, self.awaiting_reset = None, True


class _Fetcher:
    """A fetcher whose broker answers each partition as `answers` says."""

    _default_reset_strategy = OffsetResetStrategy.EARLIEST

    def __init__(self, answers: dict[TopicPartition, tuple[str, int]]) -> None:
        self.answers = answers

    async def _proc_fetch_request(self, assignment: Any, node_id: int, request: Any) -> bool:
        for tp, (answer, highwater) in self.answers.items():
            state = assignment.states[tp]
            if answer == "out of range":
                state.await_reset(self._default_reset_strategy)
            else:
                state.highwater = highwater
        return False


async def test_the_lost_log_guard_resets_a_position_past_the_high_water_mark() -> None:
    behind, past, out_of_range = (TopicPartition("t", n) for n in range(3))
    states = {behind: _State(4, None), past: _State(50, None), out_of_range: _State(70, None)}
    assignment = SimpleNamespace(active=True, states=states, state_value=states.__getitem__)
    request = SimpleNamespace(
        topics=[("t", [(tp.partition, states[tp].position, 1_048_576) for tp in states])]
    )
    fetcher = _Fetcher(
        {behind: ("records", 9), past: ("empty", 3), out_of_range: ("out of range", 0)}
    )
    forgotten: list[TopicPartition] = []
    LostLogGuard(forgotten.append).install(fetcher)

    await fetcher._proc_fetch_request(assignment, 0, request)

    assert forgotten == [past, out_of_range]
    assert states[behind].position == 4  # below the high-water mark: untouched
    assert states[past].awaiting_reset  # reset to the start, as "out of range" would
    # An answer for an assignment that changed during the fetch is not acted on.
    states[behind].position, states[behind].highwater = 20, 9
    assignment.active = False
    await fetcher._proc_fetch_request(assignment, 0, request)
    assert forgotten == [past, out_of_range]
    assert states[behind].position == 20


@pytest.mark.integration
async def test_a_group_position_past_the_end_of_the_log_reads_the_partition_from_its_start(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    """The broker lost the log the group had read (the embedded broker restarted; on Apache Kafka,
    an unclean leader election), but the group's committed offset is beyond what the new log
    holds. Apache Kafka answers such a fetch "out of range"; the embedded broker answers it with no
    records, and the consumer waited at offset 50 while records 0-2 were never handled."""
    group, topic = f"g-{unique}", f"t-{unique}"
    await group_topics(kafka_settings, group, topic, partitions=1)
    tp = TopicPartition(topic, 0)
    producer = Producer(kafka_settings)
    try:
        for n in range(3):
            await producer.send(topic, b"record %d" % n, key=b"k")
    finally:
        await producer.stop()
    await _commit(kafka_settings, group, tp, 50)
    received: list[tuple[int, bytes | None]] = []

    async def handler(messages: Sequence[Message]) -> None:
        received.extend((m.offset, m.value) for m in messages)

    async def all_handled() -> bool:
        return len(received) >= 3

    async def committed_on_the_new_log() -> bool:
        return await _committed(kafka_settings, group, tp) == 3

    async with faust_consumer(kafka_settings, group, [topic], handler, retry=RetrySettings()):
        await eventually(all_handled, what="the records below the lost position")
        await eventually(committed_on_the_new_log, what="the group's commit on the new log")
    assert received == [(0, b"record 0"), (1, b"record 1"), (2, b"record 2")]


async def _commit(kafka: KafkaSettings, group: str, tp: TopicPartition, offset: int) -> None:
    consumer = AIOKafkaConsumer(**kafka.client_options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.commit({tp: offset})
    finally:
        await consumer.stop()


async def _committed(kafka: KafkaSettings, group: str, tp: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(**kafka.client_options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return await consumer.committed(tp)
    finally:
        await consumer.stop()


def _fetch_wait(app: faust.App) -> int | None:
    fetcher = app.consumer._thread._consumer._fetcher
    return None if fetcher is None else int(fetcher._fetch_max_wait_ms)
