"""GET /metrics for processes without a web server of their own (Faust workers, relays)."""

from __future__ import annotations

from prometheus_client import start_http_server

from backbone.logging import get_logger

log = get_logger(__name__)


def serve_metrics(port: int, host: str = "0.0.0.0") -> int:  # noqa: S104 - scraped from outside
    """Serve the default registry on host:port from a daemon thread; returns the bound port.

    Call it once, early in the process (before handing over to Faust), so a scrape during
    start-up already answers. Port 0 picks a free one (tests).
    """
    server, _thread = start_http_server(port, addr=host)
    bound = int(server.server_address[1])
    log.info("metrics.listening", host=host, port=bound)
    return bound
