"""webhook-ingest's processes, one module per `python -m webhook_ingest` command."""
