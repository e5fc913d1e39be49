"""GET /metrics, /healthz and /readyz for processes without a web server of their own (Faust
workers, relays)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import make_wsgi_app, start_http_server

from backbone import readiness
from backbone.logging import get_logger

log = get_logger(__name__)

StartResponse = Callable[..., Any]


def _with_probes(metrics: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """The metrics WSGI app plus /healthz (the process serves) and /readyz (nothing waits out
    an outage; otherwise 503 naming what waits for what, backbone.readiness)."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path not in ("/healthz", "/readyz"):
            return metrics(environ, start_response)
        waiting = readiness.problems() if path == "/readyz" else []
        if waiting:
            status, body = "503 Service Unavailable", {"status": "waiting", "waiting": waiting}
        else:
            status, body = "200 OK", {"status": "ready" if path == "/readyz" else "ok"}
        payload = json.dumps(body).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        )
        return [payload]

    return app


def serve_metrics(port: int, host: str = "0.0.0.0") -> int:  # noqa: S104 - scraped from outside
    """Serve the default registry and the probes on host:port from a daemon thread; returns the
    bound port.

    Call it once, early in the process (before handing over to Faust), so a scrape during
    start-up already answers. Port 0 picks a free one (tests).
    """
    server, _thread = start_http_server(port, addr=host)
    server.set_app(_with_probes(make_wsgi_app()))
    bound = int(server.server_address[1])
    log.info("metrics.listening", host=host, port=bound)
    return bound
