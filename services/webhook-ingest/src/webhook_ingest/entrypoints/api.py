"""`python -m webhook_ingest [api]`: serve the webhook endpoint with uvicorn (settings from the
environment; the app is webhook_ingest.app.create_app, built in each worker process)."""

from __future__ import annotations

from typing import Any

from backbone import cli, http_server
from backbone.logging import configure_logging
from webhook_ingest.settings import IngestSettings


def _options(settings: IngestSettings) -> dict[str, Any]:
    # Beyond the shared limits (head size, read deadline, keep-alive, connection cap, HTTP_*):
    # several worker processes, uvloop, a deep accept backlog.
    return {
        "workers": settings.workers,
        "loop": "uvloop",
        "lifespan": "on",
        "proxy_headers": False,  # the client address is not used
        "backlog": 4096,
    }


def server_options(settings: IngestSettings) -> dict[str, Any]:
    """uvicorn settings of the service (the benchmark's no-op endpoint uses the same)."""
    return http_server.uvicorn_options(settings.host, settings.port, **_options(settings))


def main(argv: list[str]) -> int:
    """Serve until interrupted."""
    cli.parser("webhook_ingest", "api", __doc__).parse_args(argv)
    configure_logging("webhook-ingest")
    settings = IngestSettings()
    settings.refuse_unsafe()
    http_server.serve(
        "webhook_ingest.app:create_app",
        settings.host,
        settings.port,
        factory=True,
        **_options(settings),
    )
    return 0
