"""What this process waits for right now: stalled consumers and relays, for /readyz and metrics.

A consumer waiting out an outage (backbone.kafka.TransientWait) or a relay being restarted registers
here; /readyz (backbone.web, backbone.metrics_server) answers 503 naming each, and the gauge
`consumer_stalled_seconds{group,dependency}` is computed at scrape time, so it keeps growing
while a handler sleeps between tries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector


@dataclass(frozen=True)
class Waiting:
    """One thing this process waits for: `owner` (a consumer group, a relay) on `dependency`."""

    owner: str
    dependency: str
    since: float  # time.monotonic()
    blocks_readiness: bool = True

    @property
    def seconds(self) -> float:
        """How long it has waited so far."""
        return max(time.monotonic() - self.since, 0.0)

    def describe(self) -> str:
        """A short sentence for /readyz."""
        return f"{self.owner} waits for {self.dependency} ({self.seconds:.0f} s)"


class Stalls:
    """Process-wide registry of what waits; several waits of one owner on one dependency (a
    batch and its dead-letter write) count as one, since the oldest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # scraped from the metrics server's thread
        self._open: dict[tuple[str, str], tuple[int, float]] = {}
        self._gating: dict[tuple[str, str], bool] = {}
        self._seen: set[tuple[str, str]] = set()

    def begin(self, owner: str, dependency: str, *, blocks_readiness: bool = True) -> None:
        """`owner` starts waiting for `dependency`; unless `blocks_readiness` is off, /readyz
        says not ready meanwhile (a relay beside an API must not take the API out of service)."""
        key = (owner, dependency)
        with self._lock:
            self._gating[key] = blocks_readiness
            count, since = self._open.get(key, (0, time.monotonic()))
            self._open[key] = (count + 1, since)
            self._seen.add(key)

    def end(self, owner: str, dependency: str) -> None:
        """`owner` no longer waits for `dependency` (one `begin` undone)."""
        key = (owner, dependency)
        with self._lock:
            count, since = self._open.get(key, (0, 0.0))
            if count <= 1:
                self._open.pop(key, None)
            else:
                self._open[key] = (count - 1, since)

    def current(self) -> list[Waiting]:
        """What waits now, oldest first."""
        with self._lock:
            items = [
                Waiting(o, d, since, self._gating.get((o, d), True))
                for (o, d), (_, since) in self._open.items()
            ]
        return sorted(items, key=lambda w: w.since)

    def seen(self) -> set[tuple[str, str]]:
        """Every (owner, dependency) that ever waited, so the gauge drops back to 0, not away."""
        with self._lock:
            return set(self._seen)


STALLS = Stalls()


def problems() -> list[str]:
    """Why this process is not ready, in words; empty when nothing waits."""
    return [w.describe() for w in STALLS.current() if w.blocks_readiness]


class _StalledCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "consumer_stalled_seconds",
            "How long a consumer group (or relay) has been waiting out an outage of a dependency"
            " (postgresql, broker, stripe, smtp, network); 0 when it is not waiting.",
            labels=["group", "dependency"],
        )
        waiting = {(w.owner, w.dependency): w.seconds for w in STALLS.current()}
        for key in sorted(STALLS.seen() | set(waiting)):
            family.add_metric(list(key), waiting.get(key, 0.0))
        yield family

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []


REGISTRY.register(_StalledCollector())
