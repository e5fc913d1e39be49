"""Cost per payment (issue 20, target 1): CPU milliseconds per committed payment, per process.

Read from /proc (`bench.stats.CpuSeconds`: utime + stime of each process and its descendants,
PostgreSQL's backends under the postmaster) from just before the load starts until the run has
settled (every payment committed and its e-mail accepted, or the bounded wait over), divided by
the payments committed. The load generator's is its own rusage (a child the benchmark waits for).
Product processes are what production runs; the load generator, the Stripe emulator and the mail
sink stand in for Stripe, customers and an SMTP provider and are reported apart.
"""

from __future__ import annotations

import re
from typing import Any

# What production runs (the checkout API carries its outbox relay in-process in development;
# the reservation API sits idle under this load but is part of the product).
PRODUCT = (
    "webhook-ingest",
    "reservation-worker",
    "reservation-relay",
    "checkout",
    "notifier",
    "reservation-api",
    "postgres",
    "broker",
)
APART = ("load generator", "stripe-emulator", "mail-sink")
TARGET_MS = 2.5  # the product processes together, per payment (issue 20)
TABLE_HEAD = "| process | CPU ms per payment | previous run | ratio |"


def per_payment(cpu: dict[str, Any], payments: int) -> dict[str, Any]:
    """{"per_payment_ms": {name: ms}, "product_ms", "apart_ms", "window_s", "payments"}."""
    seconds: dict[str, float] = cpu["seconds"]
    ms = {n: round(s * 1000 / payments, 3) for n, s in seconds.items()} if payments else {}
    product = sum(v for n, v in ms.items() if _is_product(n))
    apart = sum(v for n, v in ms.items() if not _is_product(n))
    return {
        "payments": payments,
        "window_s": cpu["window_s"],
        "machine_ms": round(cpu["machine_s"] * 1000 / payments, 3) if payments else None,
        "per_payment_ms": ms,
        "product_ms": round(product, 3),
        "apart_ms": round(apart, 3),
    }


def _is_product(name: str) -> bool:
    return name in PRODUCT or name.startswith("reservation-worker-")


def previous(markdown: str) -> dict[str, float]:
    """The per-process figures of the newest section of BENCHMARKS.md that has a cost table."""
    found: dict[str, float] = {}
    in_table = False
    for line in markdown.splitlines():
        if line.startswith("## ") and found:
            break
        if line.startswith(TABLE_HEAD):
            in_table = True
            continue
        if in_table:
            match = re.match(r"\| \*{0,2}([^|*]+?)\*{0,2} \| \*{0,2}([0-9.]+)", line)
            if not line.startswith("|"):
                in_table = False
            elif match:
                found[match.group(1)] = float(match.group(2))
    return found


def table(cost: dict[str, Any], before: dict[str, float]) -> list[str]:
    """Markdown rows: product processes, their total against the target, then the others."""
    ms: dict[str, float] = cost["per_payment_ms"]

    def row(name: str, value: float, bold: bool = False) -> str:
        old = before.get(name)
        ratio = f"{value / old:.2f}" if old else ""
        text = f"**{name}** | **{value:.2f}**" if bold else f"{name} | {value:.2f}"
        return f"| {text} | {'' if old is None else f'{old:.2f}'} | {ratio} |"

    lines = [TABLE_HEAD, "|---|---|---|---|"]
    lines += [row(n, ms[n]) for n in sorted(ms, key=lambda n: -ms[n]) if _is_product(n)]
    met = "met" if cost["product_ms"] <= TARGET_MS else "**not met**"
    lines.append(row("product processes together", cost["product_ms"], bold=True))
    lines.append(f"| (target: at most {TARGET_MS} ms: {met}) | | | |")
    lines += [row(n, ms[n]) for n in APART if n in ms]
    if cost.get("machine_ms") is not None:
        lines.append(row("whole machine (others' work included)", cost["machine_ms"]))
    return lines
