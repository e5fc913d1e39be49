"""Idle cost (issue 20, target 6): the CPU the whole `make run` stack uses with no traffic.

The processes of `make run` (a RunningStack of our own, PostgreSQL and the broker included),
once every one answers its health check and a settling pause has let start-up work finish
(migrations, consumer group joins, the relays' first reconciliation): CPU seconds per process
tree over the window, from /proc, as % of one core. Pollers, relays and sweeps that spin show
here; the target is under 5% of one core for the whole stack.
"""

from __future__ import annotations

import time
from typing import Any

from bench.stack import System
from bench.stats import CpuSeconds, load_text

TARGET_PERCENT = 5.0


def run(system: System, seconds: float, *, settle_s: float = 15.0) -> dict[str, Any]:
    """Sample the idle stack for `seconds` after `settle_s`; % of one core per process."""
    time.sleep(settle_s)  # start-up work (group joins, first reconciliation) is not idle cost
    load_before = load_text()
    used = CpuSeconds(system.pids())
    time.sleep(seconds)
    window = used.stop()
    percent = {
        name: round(s / window["window_s"] * 100, 2) for name, s in window["seconds"].items()
    }
    total = round(sum(percent.values()), 2)
    machine = round(window["machine_s"] / window["window_s"] * 100, 1)
    return {
        "window_s": window["window_s"],
        "percent_of_a_core": dict(sorted(percent.items(), key=lambda kv: -kv[1])),
        "total_percent": total,
        "machine_percent": machine,
        "others_percent": round(machine - total, 1),
        "met": total < TARGET_PERCENT,
        "load_before": load_before,
    }


def rows(r: dict[str, Any]) -> list[str]:
    """Markdown: one row per process, then the total against the target."""
    lines = ["| process | % of one core, idle |", "|---|---|"]
    lines += [f"| {name} | {value:.2f} |" for name, value in r["percent_of_a_core"].items()]
    met = "met" if r["met"] else "**not met**"
    lines.append(
        f"| **whole stack** | **{r['total_percent']:.2f}** (target < {TARGET_PERCENT:.0f}: {met}) |"
    )
    lines.append(
        f"| (machine / others, for scale) | {r['machine_percent']} / {r['others_percent']} |"
    )
    return lines
