"""The key partitioner: the partition Kafka's own rule gives every key, at less of the cost."""

from __future__ import annotations

import random
import uuid

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from backbone.kafka import KeyPartitioner, OutgoingRecord, Producer, ensure_topics, murmur2
from backbone.settings import KafkaSettings


def _signed(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


def test_murmur2_gives_the_java_clients_hashes() -> None:
    # org.apache.kafka.common.utils.UtilsTest#testMurmur2 (Java's hash is a signed int).
    assert _signed(murmur2(b"21")) == -973932308
    assert _signed(murmur2(b"foobar")) == -790332482
    assert _signed(murmur2(b"a-little-bit-long-string")) == -985981536
    assert _signed(murmur2(b"a-little-bit-longer-string")) == -1486304829
    assert _signed(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")) == -58897971
    assert _signed(murmur2(b"abc")) == 479470107


def test_murmur2_equals_aiokafkas_for_keys_of_every_length() -> None:
    rng = random.Random(20)
    for length in range(300):
        for _ in range(10):
            key = rng.randbytes(length)
            assert murmur2(key) == aiokafka_murmur2(key), key


def test_a_key_goes_where_the_default_partitioner_sends_it() -> None:
    ours, theirs = KeyPartitioner(), DefaultPartitioner()
    rng = random.Random(21)
    for count in range(1, 13):
        partitions = list(range(count))
        for _ in range(200):
            key = f"cs_test_{uuid.UUID(int=rng.getrandbits(128)).hex}".encode()
            assert ours(key, partitions, partitions) == theirs(key, partitions, partitions)
    # Unavailable partitions do not move a key: the rule counts all of them.
    key = b"cs_test_a1"
    assert ours(key, [0, 1, 2, 3], [0]) == theirs(key, [0, 1, 2, 3], [1])


def test_a_record_without_a_key_goes_to_an_available_partition() -> None:
    ours = KeyPartitioner()
    assert {ours(None, [0, 1, 2, 3], [2]) for _ in range(50)} == {2}
    assert {ours(None, [0, 1, 2], []) for _ in range(200)} == {0, 1, 2}


@pytest.mark.integration
async def test_the_producer_puts_each_key_on_the_default_partitioners_partition(
    kafka_settings: KafkaSettings,
) -> None:
    topic = f"partitioned-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_settings, {topic: 6})
    producer = Producer(kafka_settings)
    keys = [f"cs_test_{uuid.uuid4().hex}".encode() for _ in range(60)]
    try:
        delivered = await producer.send_many([OutgoingRecord(topic, b"v", key) for key in keys])
    finally:
        await producer.stop()
    expected = [DefaultPartitioner()(key, list(range(6)), list(range(6))) for key in keys]
    assert [d.partition for d in delivered] == expected
    assert len(set(expected)) > 1  # the keys did spread
