"""`python -m checkout api`: migrate in development, then serve the API with uvicorn."""

from __future__ import annotations

from backbone import cli, http_server
from backbone.logging import configure_logging
from checkout.bootstrap import build, prepare_database
from checkout.entrypoints.app import create_app
from checkout.settings import get_settings


def main(argv: list[str]) -> int:
    """Run the API until SIGINT/SIGTERM."""
    cli.parser("checkout", "api", __doc__).parse_args(argv)
    settings = get_settings()
    settings.refuse_unsafe(stripe=True, auth=True)
    configure_logging("checkout-api", settings.log)
    if settings.should_migrate:
        prepare_database(settings)
    app = create_app(build(settings))
    http_server.serve(app, settings.host, settings.port)
    return 0
