"""`python -m reservation api`: migrate in development, then serve the API with uvicorn."""

from __future__ import annotations

from backbone import cli, http_server
from backbone.logging import configure_logging
from reservation.bootstrap import build, prepare_database
from reservation.entrypoints.app import create_app
from reservation.settings import get_settings


def main(argv: list[str]) -> int:
    """Run the API until SIGINT/SIGTERM."""
    cli.parser("reservation", "api", __doc__).parse_args(argv)
    settings = get_settings()
    settings.refuse_unsafe(stripe=False, auth=True)
    configure_logging("reservation-api", settings.log)
    prepare_database(settings)
    app = create_app(build(settings, application_name="reservation-api"))
    http_server.serve(app, settings.host, settings.port)
    return 0
