"""Run the emulator: python -m stripe_emulator (host and port from the environment)."""

from __future__ import annotations

import uvicorn

from stripe_emulator.app import create_app
from stripe_emulator.settings import get_settings


def main() -> None:
    """Serve the emulator until interrupted."""
    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
