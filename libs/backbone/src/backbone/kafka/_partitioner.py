"""The partition of a keyed record, as every Kafka client picks it, at a fraction of the cost.

Kafka's default partitioner hashes the key with murmur2 (Java's `Utils.murmur2`, seed
0x9747b28c) and takes the positive hash modulo the topic's partition count, so every producer,
in any language, sends one key to one partition: the order of one payment's events holds across
ingest, the relays and a replay. aiokafka's `DefaultPartitioner` does exactly that, in Python
byte by byte: about 6.5 µs for a session id, a fifth of what producing a record costs us. This
one reads the key four bytes at a time in one `struct` call and gives the same partition for
every key (the unit tests compare the two on random keys of every length).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence
from functools import lru_cache

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


@lru_cache(maxsize=64)
def _words(count: int) -> struct.Struct:
    return struct.Struct(f"<{count}I")


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of `data` (unsigned 32 bits, as aiokafka's `murmur2` returns it)."""
    m, mask = _M, _MASK  # locals: read once per word otherwise
    length = len(data)
    h = _SEED ^ length
    for word in _words(length >> 2).unpack_from(data):
        k = (word * m) & mask
        h = ((h * m) & mask) ^ (((k ^ (k >> 24)) * m) & mask)
    tail = length & 3
    if tail:
        base = length - tail
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h = ((h ^ data[base]) * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    return h ^ (h >> 15)


class KeyPartitioner:
    """aiokafka's partitioner interface, with Kafka's default rule: a key's murmur2 hash picks
    among all partitions; a record without a key goes to any available one."""

    def __call__(
        self, key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]
    ) -> int:
        if key is None:
            return random.choice(available or all_partitions)  # noqa: S311 - spreading, not secrecy
        return all_partitions[(murmur2(key) & 0x7FFFFFFF) % len(all_partitions)]
