"""BENCHMARKS.md: one dated section per run, newest first, each figure beside its target."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cost, idle

HEADER = """# Benchmarks

Written by `make bench` (`python -m bench`, see bench/__main__.py for what each part does). Each
run adds a dated section at the top. Targets are issues 11's and 20's; "load" is the machine's
1-minute load average before a part (other work on the machine competes for the same cores).
"""


def _ok(good: bool | None) -> str:
    return "" if good is None else ("yes" if good else "**no**")


def _ingest_rows(r: dict[str, Any]) -> list[str]:
    ingest, noop = r["webhook-ingest"], r.get("no-op FastAPI")
    ratio = ingest["throughput_ok_per_s"] / noop["throughput_ok_per_s"] if noop else None
    all_served = ingest["throughput_ok_per_s"] >= 0.99 * ingest["offered_rate"]
    served = " (all it was offered)" if all_served else ""
    base = (
        f"no-op FastAPI: {noop['throughput_ok_per_s']:.0f}/s, p99 {noop['p99_ms']:.1f} ms"
        if noop
        else ""
    )
    return [
        f"| 1. ingest throughput (offered {ingest['offered_rate']:.0f}/s) | >= 3,000/s |"
        f" {ingest['throughput_ok_per_s']:.0f}/s{served} | {base} |"
        # Open-loop: the load never offers more than its rate; 99% of 3,000/s served is "all".
        f" {_ok(ingest['throughput_ok_per_s'] >= 0.99 * 3000)} |",
        f"| 1. ingest p50 / p99 from schedule | p99 < 50 ms | {ingest['p50_ms']:.1f} /"
        f" {ingest['p99_ms']:.1f} ms | | {_ok(ingest['p99_ms'] < 50)} |",
        f"| 1. ingest / no-op throughput | >= 0.8 | {ratio:.2f} | | {_ok(ratio >= 0.8)} |"
        if ratio is not None
        else "",
    ]


def _accounting(r: dict[str, Any]) -> str:
    """published = confirmed + dead-lettered (+ still in flight when the bounded wait ended)."""
    pending = r["published"] - r["confirmed"] - r["dead_lettered"]
    text = f"{r['published']} = {r['confirmed']} + {r['dead_lettered']}"
    return text + (f" + {pending} still in flight at the deadline" if pending else "")


def _e2e_rows(label: str, r: dict[str, Any], *, targets: bool) -> list[str]:
    c, m, h = r["commit_from_2xx"], r["mail_from_2xx"], r["http_from_schedule"]
    acc = _accounting(r)
    return [
        f"| {label}: webhook 2xx -> reservation committed, p50 / p99 / max |"
        f" {'p99 < 250 ms' if targets else ''} | {c['p50_ms']:.0f} / {c['p99_ms']:.0f} /"
        f" {c['max_ms']:.0f} ms | HTTP from schedule p99 {h['p99_ms']:.0f} ms |"
        f" {_ok(c['p99_ms'] < 250) if targets else ''} |",
        f"| {label}: webhook 2xx -> e-mail accepted by SMTP, p50 / p99 / max |"
        f" {'p99 < 1 s' if targets else ''} | {m['p50_ms']:.0f} / {m['p99_ms']:.0f} /"
        f" {m['max_ms']:.0f} ms | {r['emails']} e-mails |"
        f" {_ok(m['p99_ms'] < 1000) if targets else ''} |",
        f"| {label}: published = confirmed + dead-lettered | all accounted | {acc} |"
        f" {r['payments']} payments, load {r['load_before'].split()[0]} |"
        f" {_ok(r['accounted'] and r['published'] == r['payments'])} |",
    ]


def _catchup_rows(runs: list[dict[str, Any]]) -> list[str]:
    rows = []
    one = next((r for r in runs if r["workers"] == 1), None)
    for r in runs:
        scale = (
            f"x{r['events_per_s'] / one['events_per_s']:.2f} of 1 worker"
            if one and r is not one and one["events_per_s"]
            else f"start to drained {r['wall_start_to_drained_s']} s"
        )
        rows.append(
            f"| 3. catch-up, {r['workers']} worker process(es): {r['drained']}/{r['events']}"
            f" drained | >= 2,000/s | {r['events_per_s']:.0f}/s | {scale},"
            f" {r.get('events_per_transaction') or '?'} events per transaction,"
            f" load {r['load_before'].split()[0]} | {_ok(r['events_per_s'] >= 2000)} |"
        )
    return rows


def _cost_lines(results: dict[str, Any], before: dict[str, float]) -> list[str]:
    """The cost-per-payment table at 1x: the steady run's, else the curve's 1x step."""
    source, figures = "2. steady run", results.get("e2e")
    if not (figures and figures.get("cost")):
        steps = dict(results.get("curve") or [])
        source, figures = "the curve's 1x step", steps.get("1x")
    if not (figures and figures.get("cost")):
        return []
    c = figures["cost"]
    return [
        "",
        f"Cost per payment at {figures['rate']:.0f}/s ({source}): CPU from the first request"
        f" until the run settled ({c['window_s']:.0f} s), over {c['payments']} payments"
        ' committed; "previous run" is the last section with this table.',
        "",
        *cost.table(c, before),
        *_idle_share(c, results.get("idle")),
        *_postgres_line(figures.get("postgres_per_payment")),
    ]


def _idle_share(c: dict[str, Any], idle_run: dict[str, Any] | None) -> list[str]:
    """How much of the product's figure the stack would have used anyway, idle (part 0)."""
    if not idle_run or not c["payments"]:
        return []
    idle_pct = sum(v for n, v in idle_run["percent_of_a_core"].items() if n in cost.PRODUCT)
    idle_ms = idle_pct / 100 * c["window_s"] * 1000 / c["payments"]
    return [
        "",
        f"Of the product's {c['product_ms']:.2f} ms, {idle_ms:.2f} ms is what the idle stack"
        f" ({idle_pct:.1f}% of a core, part 0) uses over the same window anyway; per payment on"
        f" top of idle: {c['product_ms'] - idle_ms:.2f} ms.",
    ]


def _postgres_line(pg: dict[str, float] | None) -> list[str]:
    if not pg:
        return []
    return [
        "",
        f"PostgreSQL per payment (every database, the benchmark's own polls included):"
        f" {pg['rows_written']} rows written, {pg['commits']} commits,"
        f" {pg['wal_bytes'] / 1024:.1f} KiB of WAL.",
    ]


def previous_cost(path: Path) -> dict[str, float]:
    """The per-process cost figures of the newest section that has them (none: {})."""
    return cost.previous(path.read_text()) if path.exists() else {}


def section(results: dict[str, Any], quick: bool, before: dict[str, float] | None = None) -> str:
    """The markdown of one run; `before`: the previous run's cost per payment, for ratios."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## {when}{' (quick smoke run: short, not comparable)' if quick else ''}",
        "",
        f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()};"
        f" load average at start {results['load_at_start']}; stack: {results['stack']}.",
        "",
        "| measure | target | result | beside it | met |",
        "|---|---|---|---|---|",
    ]
    if "ingest" in results:
        lines += [row for row in _ingest_rows(results["ingest"]) if row]
    if "e2e" in results:
        lines += _e2e_rows(
            f"2. steady {results['e2e']['rate']:.0f}/s", results["e2e"], targets=True
        )
    if results.get("catchup"):
        lines += _catchup_rows(results["catchup"])
    if results.get("relay"):
        r = results["relay"]
        lines.append(
            f"| 5. relay catch-up, one relay process: {r['sent']}/{r['rows']} rows published |"
            f" | {r['rows_per_s']:.0f} rows/s | {r['cpu_ms_per_row']} ms of relay CPU per row,"
            f" {r['relay_cpu_percent']}% of a core, load {r['load_before'].split()[0]} | |"
        )
    if results.get("idle"):
        r = results["idle"]
        lines += [
            "",
            f"0. Idle: the whole stack with no traffic for {r['window_s']:.0f} s, once started"
            f" (load {r['load_before'].split()[0]}):",
            "",
            *idle.rows(r),
        ]
    lines += _cost_lines(results, before or {})
    if results.get("curve"):
        lines += [
            "",
            "4. Load curve (each step its own batch; latency from the webhook's 2xx; targets at"
            " 4x: commit p99 < 250 ms, e-mail p99 < 1 s, all accounted for):",
            "",
        ]
        lines += [
            "| load | offered | HTTP p99 from schedule | commit p50 / p99 | e-mail p50 / p99 |"
            " accounted | product CPU ms per payment |"
            " CPU % of a core: machine / worker / notifier / postgres / others |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for step, r in results["curve"]:
            cpu = r["cpu_percent"]
            product = f"{r['cost']['product_ms']:.2f}" if r.get("cost") else ""
            lines.append(
                f"| {step} | {r['rate']:.0f}/s x {r['duration_s']:.0f} s |"
                f" {r['http_from_schedule']['p99_ms']:.0f} ms |"
                f" {r['commit_from_2xx']['p50_ms']:.0f} / {r['commit_from_2xx']['p99_ms']:.0f} ms |"
                f" {r['mail_from_2xx']['p50_ms']:.0f} / {r['mail_from_2xx']['p99_ms']:.0f} ms |"
                f" {_accounting(r)} ({r['emails']} e-mails) | {product} |"
                f" {cpu.get('machine', '')} /"
                f" {cpu.get('reservation-worker', '')} / {cpu.get('notifier', '')} /"
                f" {cpu.get('postgres', '')} / {cpu.get('others', '')} |"
            )
    lines += ["", f"Raw figures: `{results['raw']}`.", ""]
    return "\n".join(lines)


def write(path: Path, results: dict[str, Any], quick: bool) -> None:
    """Insert this run's section at the top of BENCHMARKS.md."""
    old = path.read_text() if path.exists() else HEADER
    head, sep, rest = old.partition("\n## ")
    body = section(results, quick, cost.previous(old))
    path.write_text(head.rstrip() + "\n\n" + body + ("\n## " + rest if sep else ""))
