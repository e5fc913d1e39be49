"""Percentiles and CPU accounting shared by the benchmark parts."""

from __future__ import annotations

import os
import time
from pathlib import Path
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


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds user+system) of one live process, from /proc/<pid>/stat."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: the fields after it start past the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def process_tree_cpu(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each root process and its live descendants
    (PostgreSQL: the postmaster and a backend per connection), read from /proc."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))) is not None:
            stats[int(entry.name)] = stat
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[str, float] = {}
    for name, root in roots.items():
        total, todo = 0.0, [root]
        while todo:
            pid = todo.pop()
            if pid in stats:
                total += stats[pid][1]
                todo += children.get(pid, [])
        out[name] = total
    return out


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (every core), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


class CpuSeconds:
    """CPU seconds per named process tree (and the machine) between `__init__` and `stop()`.

    A backend that exits inside the window takes its CPU with it (a process's time reaches its
    parent's only once reaped, and the postmaster's `cutime` is not read): PostgreSQL is then
    undercounted, never overcounted. The services keep their pools' connections open, so under
    steady load that is small.
    """

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = dict(pids)
        self.t0 = time.monotonic()
        self.machine0 = machine_busy_s()
        self.start = process_tree_cpu(self.pids)

    def stop(self) -> dict[str, Any]:
        """{"window_s", "machine_s", "seconds": {name: CPU seconds}} since the start."""
        end = process_tree_cpu(self.pids)
        return {
            "window_s": round(time.monotonic() - self.t0, 2),
            "machine_s": round(machine_busy_s() - self.machine0, 3),
            "seconds": {n: round(end[n] - self.start[n], 3) for n in self.pids if n in end},
        }
