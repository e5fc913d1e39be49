"""The benchmark's yardstick: a no-op FastAPI endpoint served with the service's uvicorn settings.

`python -m bench.ingest_noop` (port and workers from WEBHOOK_INGEST_PORT and _WORKERS):
POST /webhooks/stripe answers 200 at once, without verifying, parsing or publishing anything, so
the benchmark can show what verification plus a durable publish cost relative to the bare
framework and server.
"""

from __future__ import annotations

import os

import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response

from webhook_ingest.__main__ import server_options
from webhook_ingest.settings import IngestSettings

app = FastAPI(title="noop", docs_url=None, redoc_url=None)


@app.post("/webhooks/stripe")
async def noop() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


@app.get("/healthz")
async def healthz() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


def main() -> None:
    os.environ.setdefault("STRIPE_WEBHOOK_SECRET", "unused")
    options = server_options(IngestSettings())
    if options["workers"] > 1:
        uvicorn.run("bench.ingest_noop:app", **options)
    else:
        uvicorn.run(app, **options)


if __name__ == "__main__":
    main()
