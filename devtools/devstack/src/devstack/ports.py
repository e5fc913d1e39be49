"""Free local ports and readiness polling for the parts the dev stack starts."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path

# Linux's default when /proc does not say (net.ipv4.ip_local_port_range).
_EPHEMERAL_DEFAULT = (32768, 60999)
_LOWEST = 10_000  # below: ports that well-known services on the machine may use
_handed_out: set[int] = set()


def ephemeral_ports() -> tuple[int, int]:
    """The kernel's range of ports for outgoing connections (and for a bind to port 0)."""
    try:
        low, high = (
            int(p) for p in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        )
    except (OSError, ValueError):
        return _EPHEMERAL_DEFAULT
    return low, high


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now, outside the kernel's ephemeral range.

    A port the OS picks (a bind to port 0) is an ephemeral one, and any outgoing connection on
    the machine may take it as its source port in the moment between this check and the bind
    of the process it is for: a test stack's checkout API once failed so ("address already in
    use"), and every payment of the test with it. Ports below the range (or above it, when
    there is no room below) are never given to outgoing connections; one is drawn at random,
    since other processes (pytest workers, benchmarks) draw at the same time, and never twice
    in this process.
    """
    low, high = ephemeral_ports()
    first, last = (_LOWEST, low - 1) if low - _LOWEST >= 1_000 else (high + 1, 65_535)
    if last - first < 1_000:  # the range leaves no room: let the OS pick
        return _os_port(host)
    for _ in range(200):
        port = first + secrets.randbelow(last - first + 1)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    return _os_port(host)


def _os_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(
    predicate: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll `predicate` until it holds, or raise TimeoutError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")
