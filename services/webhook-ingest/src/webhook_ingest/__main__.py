"""Run the service: python -m webhook_ingest (settings from the environment)."""

from __future__ import annotations

from typing import Any

import uvicorn

from backbone import http_server
from backbone.logging import configure_logging
from webhook_ingest.settings import IngestSettings


def server_options(settings: IngestSettings) -> dict[str, Any]:
    """uvicorn settings of the service (the benchmark's no-op endpoint uses the same)."""
    return {
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "loop": "uvloop",
        # httptools with a head-size limit and a request-read deadline, keep-alive and a
        # connection cap (HTTP_*): slow clients are cut off, valid webhooks still answered.
        **http_server.server_options(),
        "lifespan": "on",
        "access_log": False,  # every rejection and failure gets its own structured line
        "log_config": None,  # keep the structlog configuration
        "proxy_headers": False,  # the client address is not used
        "backlog": 4096,
    }


def main() -> None:
    """Serve until interrupted."""
    configure_logging("webhook-ingest")
    settings = IngestSettings()
    settings.refuse_unsafe()
    uvicorn.run("webhook_ingest.app:create_app", factory=True, **server_options(settings))


if __name__ == "__main__":
    main()
