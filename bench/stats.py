"""Percentiles and CPU accounting shared by the benchmark parts."""

from __future__ import annotations

import os
from typing import Any


def pct(values: list[float], p: float) -> float:
    """The p-quantile (0..1) of `values` in milliseconds; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


def summary(values: list[float]) -> dict[str, float]:
    """p50, p99 and max in milliseconds."""
    return {
        "p50_ms": round(pct(values, 0.50), 1),
        "p99_ms": round(pct(values, 0.99), 1),
        "max_ms": round(max(values) * 1000, 1) if values else float("nan"),
    }


def cpu_watch(pids: dict[str, int]) -> Any:
    """The load generator's CpuWatch (CPU % of one core per process, and the machine)."""
    from bench.loadgen import CpuWatch

    return CpuWatch(pids)


def load_text() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
