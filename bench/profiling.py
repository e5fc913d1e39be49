"""py-spy on a running process: a flame graph and the top functions, by inclusive share."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def _py_spy() -> str:
    # The virtualenv's own first (make bench runs it), then the PATH.
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy") or "py-spy"


def record(pid: int, seconds: float, out: Path, top: int = 25) -> dict[str, Any]:
    """Sample `pid` for `seconds`; write the top functions to `out`.txt; return a summary.

    Only samples of running Python count (py-spy leaves idle threads out), so the shares are of
    CPU time, the thing a 2-core machine runs out of.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_suffix(".collapsed")
    base = [
        _py_spy(),
        "record",
        "-p",
        str(pid),
        "-d",
        str(int(seconds)),
        "-r",
        "100",
        "--nonblocking",
    ]
    subprocess.run(
        [*base, "-f", "raw", "-o", str(raw)],
        check=True,
        capture_output=True,
        timeout=seconds + 60,
    )
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack.split(";")
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    lines = [f"{total} samples of pid {pid} over {seconds:.0f}s", "", "inclusive:"]
    lines += [f"{n / total * 100:6.1f}%  {f}" for f, n in inclusive.most_common(top * 2)]
    lines += ["", "self:"]
    lines += [f"{n / total * 100:6.1f}%  {f}" for f, n in own.most_common(top)]
    out.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    return {
        "samples": total,
        "report": str(out.with_suffix(".txt")),
        "top_self": [[f, round(n / total * 100, 1)] for f, n in own.most_common(8)],
    }
